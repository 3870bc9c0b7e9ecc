"""The gateway's stack for tests: fake Zalo and Meta servers (tests/fakes/), a stand-in Rasa,
and real API processes (``serve``) pointed at them, on SQLite and PostgreSQL."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass

import pytest
from sqlalchemy import text

from tests.chat.fake_rasa import FakeRasa
from tests.fakes.platforms import FakeMeta, FakeZalo
from tests.feedback_api.conftest import db_url, free_port, pg_url  # noqa: F401 - fixtures
from tests.feedback_api.server import service_env


@dataclass
class Platforms:
    zalo: FakeZalo
    meta: FakeMeta
    zalo_app_id: str
    zalo_oa_secret: str
    messenger_app_secret: str
    verify_token: str

    def stop(self) -> None:
        self.zalo.stop()
        self.meta.stop()

    def env(self) -> dict[str, str]:
        return {
            "CAUNOI_ZALO_APP_ID": self.zalo_app_id,
            "CAUNOI_ZALO_APP_SECRET": self.zalo.app_secret,
            "CAUNOI_ZALO_OA_SECRET": self.zalo_oa_secret,
            "CAUNOI_ZALO_REFRESH_TOKEN": self.zalo.refresh_token,
            "CAUNOI_ZALO_ACCESS_TOKEN": self.zalo.access_token,
            "CAUNOI_ZALO_OPENAPI_URL": self.zalo.url,
            "CAUNOI_ZALO_OAUTH_URL": self.zalo.url,
            "CAUNOI_MESSENGER_APP_SECRET": self.messenger_app_secret,
            "CAUNOI_MESSENGER_VERIFY_TOKEN": self.verify_token,
            "CAUNOI_MESSENGER_PAGE_TOKEN": self.meta.page_token,
            "CAUNOI_MESSENGER_GRAPH_URL": self.meta.url,
        }


def fake_platforms() -> Platforms:
    """Fake Zalo and Meta servers, started, with fresh random credentials."""
    zalo = FakeZalo(app_id=str(secrets.randbelow(10**18)), app_secret=secrets.token_hex(16),
                    access_token=secrets.token_urlsafe(24),
                    refresh_token=secrets.token_urlsafe(24)).start()
    meta = FakeMeta(app_secret=secrets.token_hex(16), page_token=secrets.token_urlsafe(32)).start()
    return Platforms(zalo, meta, zalo.app_id, secrets.token_hex(16), meta.app_secret,
                     secrets.token_urlsafe(12))


@pytest.fixture(scope="module")
def platforms():
    fakes = fake_platforms()
    yield fakes
    fakes.stop()


@pytest.fixture(scope="module")
def rasa():
    fake = FakeRasa().start()
    yield fake
    fake.stop()


def gateway_env(database_url: str, model_dir, platforms: Platforms, rasa: FakeRasa,
                **extra: str) -> dict:
    return service_env(database_url, model_dir, free_port(), CAUNOI_RUN_WORKER="1",
                       CAUNOI_RASA_URL=rasa.url, CAUNOI_RASA_TIMEOUT="4",
                       CAUNOI_CHANNEL_RETRY_SECONDS="0.2", CAUNOI_CHANNEL_SEND_ATTEMPTS="3",
                       CAUNOI_RATE_LIMIT_WEBHOOKS="100000/minute",
                       **platforms.env(), **extra)


def scalar(database, sql: str, **params):
    with database.session() as session:
        return session.execute(text(sql), params).scalar()


def wait_until(predicate, timeout: float = 20.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"{what} not reached in {timeout} s")
