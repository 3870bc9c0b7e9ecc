"""One Settings object reads the environment (CAUNOI_*, DATABASE_URL); nothing else does."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from knowledge.index import DEFAULT_INDEX, DEFAULT_MODEL

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DATA = REPO / "var"
DEV_SECRET = "dev-only-secret-change-me"


@dataclass(frozen=True)
class Settings:
    index_dir: Path = DEFAULT_INDEX
    model_dir: Path = DEFAULT_MODEL
    max_query_chars: int = 1000
    max_k: int = 20
    # Feedback store: SQLite (WAL) under var/ unless DATABASE_URL names PostgreSQL.
    database_url: str = f"sqlite:///{DEFAULT_DATA / 'caunoi.db'}"
    secret_key: str = DEV_SECRET
    environment: str = "development"  # "production" refuses the development secret
    public_url: str = "http://127.0.0.1:8000"
    max_feedback_chars: int = 5000
    # Notifications: SMTP for liaisons' email; the worker drains the outbox in-process.
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 8025
    smtp_sender: str = "caunoi@laocai.example"
    run_worker: bool = True
    # Embedded default: a local SMTP sink saving mail to var/mail/ (off when a relay is set).
    dev_mailbox: bool = False
    mail_dir: Path = DEFAULT_DATA / "mail"
    worker_interval: float = 0.5
    # Service levels in working days per kind, and the holiday calendar file.
    service_levels: dict[str, int] = field(
        default_factory=lambda: {"complaint": 10, "proposal": 15, "question": 5}
    )
    holidays_file: Path | None = None
    # Schema upgrade at start (the serve command does it once, then starts its processes).
    migrate_on_start: bool = True
    # API processes: each holds its own copy of the search index (about 0.9 GB).
    api_workers: int = 2
    # Search is optional for the feedback service (tests of the store run without an index).
    load_search: bool = True
    # The web chat page forwards to Rasa's REST channel; Rasa answers after every action ran.
    rasa_url: str = "http://127.0.0.1:5005"
    rasa_timeout: float = 60.0

    def __post_init__(self) -> None:
        if self.environment == "production" and self.secret_key == DEV_SECRET:
            raise ValueError("CAUNOI_SECRET_KEY phải được đặt khi chạy production")

    @classmethod
    def from_env(cls, **overrides) -> Settings:
        env = os.environ
        values: dict = {
            "index_dir": Path(env.get("CAUNOI_INDEX_DIR", DEFAULT_INDEX)),
            "model_dir": Path(env.get("CAUNOI_MODEL_DIR", DEFAULT_MODEL)),
        }
        if "DATABASE_URL" in env:
            values["database_url"] = _sqlalchemy_url(env["DATABASE_URL"])
        text = {
            "CAUNOI_SECRET_KEY": "secret_key",
            "CAUNOI_ENV": "environment",
            "CAUNOI_PUBLIC_URL": "public_url",
            "CAUNOI_SMTP_HOST": "smtp_host",
            "CAUNOI_SMTP_SENDER": "smtp_sender",
            "CAUNOI_RASA_URL": "rasa_url",
        }
        for name, attr in text.items():
            if name in env:
                values[attr] = env[name]
        if "CAUNOI_SMTP_PORT" in env:
            values["smtp_port"] = int(env["CAUNOI_SMTP_PORT"])
        if "CAUNOI_SERVICE_LEVELS" in env:  # e.g. "complaint=10,proposal=15,question=5"
            values["service_levels"] = _service_levels(env["CAUNOI_SERVICE_LEVELS"])
        if "CAUNOI_API_WORKERS" in env:
            values["api_workers"] = max(1, int(env["CAUNOI_API_WORKERS"]))
        if "CAUNOI_RASA_TIMEOUT" in env:
            values["rasa_timeout"] = float(env["CAUNOI_RASA_TIMEOUT"])
        if "CAUNOI_WORKER_INTERVAL" in env:
            values["worker_interval"] = float(env["CAUNOI_WORKER_INTERVAL"])
        if "CAUNOI_MAIL_DIR" in env:
            values["mail_dir"] = Path(env["CAUNOI_MAIL_DIR"])
        if "CAUNOI_HOLIDAYS_FILE" in env:
            values["holidays_file"] = Path(env["CAUNOI_HOLIDAYS_FILE"])
        flags = {
            "CAUNOI_RUN_WORKER": "run_worker",
            "CAUNOI_LOAD_SEARCH": "load_search",
            "CAUNOI_DEV_MAILBOX": "dev_mailbox",
            "CAUNOI_MIGRATE_ON_START": "migrate_on_start",
        }
        for name, attr in flags.items():
            if name in env:
                values[attr] = env[name].strip().lower() not in {"0", "false", "no", "off"}
        values.update(overrides)
        return cls(**values)


def _service_levels(text: str) -> dict[str, int]:
    """Working days per kind; every kind must be given a positive number."""
    levels = {}
    for part in text.split(","):
        kind, _, days = part.partition("=")
        levels[kind.strip()] = int(days)
    if set(levels) != {"complaint", "proposal", "question"} or min(levels.values()) < 1:
        raise ValueError("CAUNOI_SERVICE_LEVELS cần dạng complaint=10,proposal=15,question=5")
    return levels


def _sqlalchemy_url(url: str) -> str:
    """postgres:// and postgresql:// both mean psycopg 3."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url
