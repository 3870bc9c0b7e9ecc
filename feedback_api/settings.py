"""One Settings object reads the environment (CAUNOI_*, DATABASE_URL); nothing else does.

``Settings()`` reads the variables named below (``CAUNOI_`` + the field name in capitals,
except ``DATABASE_URL`` and ``CAUNOI_ENV``); keyword arguments override them, so tests build
``Settings(load_search=False)``. The object is immutable.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from pydantic import AliasChoices, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from knowledge import DEFAULT_INDEX, DEFAULT_MODEL

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DATA = REPO / "var"
DEV_SECRET = "dev-only-secret-change-me"
KINDS = ("complaint", "proposal", "question")
OFF = {"0", "false", "no", "off"}  # a flag is on unless it says one of these
SERVICE_LEVELS_FORMAT = "CAUNOI_SERVICE_LEVELS cần dạng complaint=10,proposal=15,question=5"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="CAUNOI_", frozen=True, validate_by_name=True, hide_input_in_errors=True
    )

    index_dir: Path = DEFAULT_INDEX
    model_dir: Path = DEFAULT_MODEL
    max_query_chars: int = 1000
    # Feedback store: SQLite (WAL) under var/ unless DATABASE_URL names PostgreSQL.
    database_url: str = Field(
        f"sqlite:///{DEFAULT_DATA / 'caunoi.db'}", validation_alias=AliasChoices("DATABASE_URL")
    )
    secret_key: str = DEV_SECRET
    # "production" refuses the development secret.
    environment: str = Field("development", validation_alias=AliasChoices("CAUNOI_ENV"))
    public_url: str = "http://127.0.0.1:8000"
    # Notifications: SMTP for liaisons' email; the worker drains the outbox in-process.
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 8025
    smtp_sender: str = "caunoi@laocai.example"
    run_worker: bool = True
    # Embedded default: a local SMTP sink saving mail to var/mail/ (off when a relay is set).
    dev_mailbox: bool = False
    mail_dir: Path = DEFAULT_DATA / "mail"
    worker_interval: float = 0.5
    # Service levels in working days per kind ("complaint=10,proposal=15,question=5" in the
    # environment), and the holiday calendar file.
    service_levels: Annotated[dict[str, int], NoDecode] = Field(
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

    @field_validator("run_worker", "load_search", "dev_mailbox", "migrate_on_start", mode="before")
    @classmethod
    def _flag(cls, value: Any) -> Any:
        return value.strip().lower() not in OFF if isinstance(value, str) else value

    @field_validator("service_levels", mode="before")
    @classmethod
    def _service_levels(cls, value: Any) -> Any:
        """Working days per kind; every kind must be given a positive number."""
        if not isinstance(value, str):
            return value
        levels = {}
        for part in value.split(","):
            kind, _, days = part.partition("=")
            try:
                levels[kind.strip()] = int(days)
            except ValueError:
                raise ValueError(SERVICE_LEVELS_FORMAT) from None
        return levels

    @field_validator("service_levels")
    @classmethod
    def _every_kind(cls, levels: dict[str, int]) -> dict[str, int]:
        if set(levels) != set(KINDS) or min(levels.values()) < 1:
            raise ValueError(SERVICE_LEVELS_FORMAT)
        return levels

    @field_validator("database_url")
    @classmethod
    def _sqlalchemy_url(cls, url: str) -> str:
        """postgres:// and postgresql:// both mean psycopg 3."""
        for prefix in ("postgres://", "postgresql://"):
            if url.startswith(prefix):
                return "postgresql+psycopg://" + url[len(prefix) :]
        return url

    @field_validator("api_workers")
    @classmethod
    def _at_least_one(cls, workers: int) -> int:
        return max(1, workers)

    @model_validator(mode="after")
    def _no_dev_secret_in_production(self) -> Settings:
        if self.environment == "production" and self.secret_key == DEV_SECRET:
            raise ValueError("CAUNOI_SECRET_KEY phải được đặt khi chạy production")
        return self

