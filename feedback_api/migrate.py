"""Bring a database to the current schema (Alembic head) and load the seed departments."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from feedback_api.db import Database

MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def migrate_and_seed(url: str) -> None:
    """Upgrade to head, then insert seed departments that are missing (idempotent)."""
    from feedback_api.departments.service import seed_departments

    command.upgrade(alembic_config(url), "head")
    db = Database(url)
    try:
        with db.session() as session:
            seed_departments(session)
    finally:
        db.dispose()
