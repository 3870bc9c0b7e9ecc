"""Databases for the feedback service's tests: every test module runs on SQLite and PostgreSQL.

PostgreSQL runs on 127.0.0.1:5432 (trust auth) on these machines and in CI. Each test session
creates its own database, so parallel runs never see each other's rows, and drops it at the end.
"""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

PG_ADMIN_URL = os.environ.get(
    "CAUNOI_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def fresh_pg_database(prefix: str) -> Iterator[str]:
    """A new PostgreSQL database (its name), dropped afterwards; fails clearly without a server."""
    from sqlalchemy import create_engine, text

    name = f"{prefix}_{secrets.token_hex(4)}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # noqa: BLE001 - the message names what is missing
        pytest.fail(f"PostgreSQL on 127.0.0.1:5432 is required for these tests: {exc}")
    try:
        yield name
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def pg_url():
    """A fresh PostgreSQL database for this test session."""
    with fresh_pg_database("caunoi_test") as name:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def db_url(request, tmp_path_factory) -> str:
    """The URL of an empty database, once per backend (tables not created)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path_factory.mktemp('db') / 'caunoi.db'}"
    return request.getfixturevalue("pg_url")


@pytest.fixture(scope="session")
def database(db_url):
    """A migrated database (Alembic head) with the seed departments, on each backend."""
    from feedback_api.db import Database
    from feedback_api.migrate import migrate_and_seed

    migrate_and_seed(db_url)
    db = Database(db_url)
    yield db
    db.dispose()


@pytest.fixture(scope="module")
def smtp():
    """A real SMTP server on loopback that keeps what it receives (one per test module)."""
    from tests.feedback_api.server import SmtpSink

    sink = SmtpSink().start()
    yield sink
    sink.stop()
