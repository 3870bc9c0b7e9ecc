"""Servers for the chat tests: a stand-in Rasa, the real API without and with search, and the
backing stores (a fresh PostgreSQL database, Redis) for the Rasa store tests."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.chat.fake_rasa import FakeRasa
from tests.feedback_api.conftest import PG_ADMIN_URL, free_port, fresh_pg_database
from tests.feedback_api.server import Api, service_env

REDIS_HOST = os.environ.get("CAUNOI_TEST_REDIS_HOST", "127.0.0.1")
REDIS_PORT = int(os.environ.get("CAUNOI_TEST_REDIS_PORT", "6379"))
RASA_TIMEOUT = "4"  # seconds the API waits for the stand-in (the timeout test sleeps longer)


@pytest.fixture(scope="package")  # stopped when tests/chat/ is done
def fake_rasa():
    fake = FakeRasa().start()
    yield fake
    fake.stop()


def _api(tmp_path_factory, model_dir, fake_rasa, **extra: str) -> Api:
    db = tmp_path_factory.mktemp("chat") / "caunoi.db"
    env = service_env(f"sqlite:///{db}", model_dir, free_port(), CAUNOI_RUN_WORKER="0",
                      CAUNOI_RASA_URL=fake_rasa.url, CAUNOI_RASA_TIMEOUT=RASA_TIMEOUT, **extra)
    return Api(env)


@pytest.fixture(scope="package")  # stopped when tests/chat/ is done
def chat_api(tmp_path_factory, model_dir, fake_rasa):
    """The API without a search index (articles answer 503), relaying to the stand-in."""
    api = _api(tmp_path_factory, model_dir, fake_rasa)
    yield api
    api.stop()


@pytest.fixture(scope="package")  # stopped when tests/chat/ is done
def reader_api(tmp_path_factory, model_dir, small_index, fake_rasa):
    """The API with the small real index loaded (three laws and a local draft policy)."""
    api = _api(tmp_path_factory, model_dir, fake_rasa, CAUNOI_LOAD_SEARCH="1",
               CAUNOI_INDEX_DIR=str(small_index))
    yield api
    api.stop()


# --- Rasa stores ------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def stores_model(request) -> Path:
    """The trained Rasa model: $CAUNOI_RASA_MODEL if set (a .tar.gz or a folder of them), else
    the suite's ``rasa_model`` fixture (trained once per bot/ fingerprint)."""
    configured = os.environ.get("CAUNOI_RASA_MODEL")
    if configured:
        path = Path(configured)
        if path.is_dir():
            models = sorted(path.glob("*.tar.gz"), key=lambda p: p.stat().st_mtime)
            assert models, f"no model in {path}"
            path = models[-1]
        assert path.is_file(), f"CAUNOI_RASA_MODEL={configured} is not a model"
        return path
    return request.getfixturevalue("rasa_model")


@pytest.fixture(scope="session")
def redis_server() -> tuple[str, int]:
    import socket

    try:
        with socket.create_connection((REDIS_HOST, REDIS_PORT), timeout=3) as s:
            s.sendall(b"PING\r\n")
            assert s.recv(16).startswith(b"+PONG")
    except (OSError, AssertionError) as exc:
        pytest.fail(f"Redis on {REDIS_HOST}:{REDIS_PORT} is required for these tests: {exc}")
    return REDIS_HOST, REDIS_PORT


@pytest.fixture(scope="session")
def tracker_database():
    """A fresh PostgreSQL database for Rasa's tracker store (its connection settings)."""
    from sqlalchemy import make_url

    url = make_url(PG_ADMIN_URL)
    with fresh_pg_database("caunoi_rasa") as name:
        yield {"host": url.host or "127.0.0.1", "port": str(url.port or 5432),
               "user": url.username or "postgres", "password": url.password or "", "db": name,
               "url": url.set(database=name).render_as_string(hide_password=False)}
