"""Fixtures for the action server's tests: the real API (SQLite, real search index), the real
action server (rasa-sdk on Python 3.10), and bot/domain as Rasa sends it."""

from __future__ import annotations

import pytest

from tests.actions.servers import action_server, api_server, env_for_actions, load_domain
from tests.feedback_api.server import SmtpSink, cli, service_env


@pytest.fixture(scope="session")
def domain() -> dict:
    return load_domain()


@pytest.fixture(scope="module")
def smtp():
    sink = SmtpSink().start()
    yield sink
    sink.stop()


@pytest.fixture(scope="module")
def api(tmp_path_factory, small_index, model_dir, smtp):
    """The API with search loaded, on SQLite, with a service and an admin token."""
    db = tmp_path_factory.mktemp("actions-api") / "caunoi.db"
    env = service_env(f"sqlite:///{db}", model_dir, smtp.port, CAUNOI_LOAD_SEARCH="1",
                      CAUNOI_INDEX_DIR=str(small_index))
    server = api_server(env)
    server.tokens = {role: cli("token", "create", "--role", role, "--name", f"bot-test-{role}",
                               env=env)
                     for role in ("service", "admin")}
    server.db_path = db
    yield server
    server.stop()


@pytest.fixture(scope="module")
def actions(api, tmp_path_factory):
    outbox = tmp_path_factory.mktemp("actions-outbox") / "outbox.db"
    server = action_server(env_for_actions(api, api.tokens["service"], outbox))
    server.outbox = outbox
    yield server
    server.stop()
    if "Traceback" in server.output():
        print(server.output()[-10_000:])
