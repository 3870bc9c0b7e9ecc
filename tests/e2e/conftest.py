"""The whole assistant on loopback: the real API (SQLite, full default index), the real action
server and a real `rasa run` with the model trained once per run (scripts.stack, as `make run`)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from scripts.stack import (
    Service,
    ensure_service_token,
    start_actions,
    start_api,
    start_rasa,
    store_env,
    wait_healthy,
    write_endpoints,
)
from tests.actions.servers import http
from tests.channels.conftest import fake_platforms
from tests.feedback_api.conftest import free_port
from tests.feedback_api.server import SmtpSink, cli, service_env


@dataclass
class Stack:
    api: Service
    actions: Service
    rasa: Service
    api_port: int
    rasa_port: int
    token: str
    admin_token: str
    env: dict
    logs: Path
    smtp: SmtpSink
    outbox: Path  # the action server's
    tracker_db: Path | None = None  # Rasa's (SQLite, unless CAUNOI_RASA_ENDPOINTS says else)
    platforms: object = None  # fake Zalo and Meta (tests/channels/conftest.py Platforms)
    restarts: list = field(default_factory=list)

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def say(self, sender: str, text: str) -> list[dict]:
        """One citizen message through Rasa's REST channel; the bot's messages."""
        status, messages = http("POST", f"http://127.0.0.1:{self.rasa_port}/webhooks/rest/webhook",
                                {"sender": sender, "message": text})
        assert status == 200, messages
        return messages

    def parse(self, text: str) -> dict:
        """What Rasa's NLU makes of a message (``/model/parse``), without a conversation."""
        status, body = http("POST", f"http://127.0.0.1:{self.rasa_port}/model/parse",
                            {"text": text})
        assert status == 200, body
        return body

    def get(self, path: str, *, token: str | None = None) -> tuple[int, object]:
        return http("GET", self.api_url + path, token=token)

    def stop_api(self) -> None:
        self.api.stop()

    def start_api(self) -> None:
        self.api = start_api(port=self.api_port, env=self.env,
                             log_path=self.logs / f"api-{len(self.restarts) + 1}.log")
        self.restarts.append(self.api)
        wait_healthy([self.api], timeout=300, log=lambda _: None)

    def logs_tail(self) -> str:
        return "\n\n".join(f"== {s.name}\n{s.log_tail(40)}"
                           for s in (self.api, self.actions, self.rasa))


def answer_payload(messages: list[dict]) -> dict | None:
    """The machine-readable answer element of a bot turn, if any."""
    for message in messages:
        custom = message.get("custom")
        if isinstance(custom, dict) and custom.get("type") == "answer":
            return custom
    return None


def texts(messages: list[dict]) -> str:
    return "\n".join(m.get("text", "") for m in messages if m.get("text"))


@pytest.fixture(scope="package")  # the processes stop once tests/e2e/ is done
def stack(rasa_model, model_dir, tmp_path_factory):
    root = tmp_path_factory.mktemp("stack")
    logs = root / "logs"
    smtp = SmtpSink().start()
    platforms = fake_platforms()  # Zalo and Messenger on, as the recipe in docs/channels.md
    api_port, rasa_port, actions_port = free_port(), free_port(), free_port()
    env = service_env(f"sqlite:///{root / 'caunoi.db'}", model_dir, smtp.port,
                      CAUNOI_LOAD_SEARCH="1", CAUNOI_RASA_URL=f"http://127.0.0.1:{rasa_port}",
                      CAUNOI_PUBLIC_URL=f"http://127.0.0.1:{api_port}",
                      **store_env(tracker_db=root / "tracker.db", outbox=root / "outbox.db"),
                      **platforms.env())
    env.pop("CAUNOI_INDEX_DIR", None)  # the full default index (models/index), as `make run`
    token_file = ensure_service_token(root / "service_token", env)
    endpoints = write_endpoints(root / "endpoints.yml",
                                actions_url=f"http://127.0.0.1:{actions_port}/webhook",
                                tracker_db=root / "tracker.db")
    services = [
        start_api(port=api_port, env=env, log_path=logs / "api.log"),
        start_actions(port=actions_port, api_url=f"http://127.0.0.1:{api_port}",
                      token_file=token_file, outbox=root / "outbox.db",
                      public_url=f"http://127.0.0.1:{api_port}", log_path=logs / "actions.log",
                      CAUNOI_ACTIONS_OUTBOX_MAX_DELAY="2"),
        start_rasa(port=rasa_port, model=rasa_model, endpoints=endpoints,
                   log_path=logs / "rasa.log", enable_api=True),
    ]
    try:
        wait_healthy(services, timeout=420, log=lambda _: None)
    except RuntimeError:
        for service in services:
            service.stop()
        smtp.stop()
        platforms.stop()
        raise
    stack = Stack(*services, api_port=api_port, rasa_port=rasa_port,
                  token=token_file.read_text().strip(),
                  admin_token=cli("token", "create", "--role", "admin", "--name", "e2e", env=env),
                  env=env, logs=logs, smtp=smtp, outbox=root / "outbox.db",
                  tracker_db=root / "tracker.db", platforms=platforms)
    yield stack
    for service in (stack.rasa, stack.actions, stack.api, *stack.restarts):
        service.stop()
    smtp.stop()
    platforms.stop()


TRACKING_CODE = re.compile(r"\b(PA|KN|CH)-[23456789A-HJ-NP-Z]{8}\b")


def buttons(messages: list[dict]) -> dict[str, str]:
    """Title -> payload of the buttons offered in a bot turn."""
    return {b["title"]: b["payload"] for m in messages for b in m.get("buttons") or []}


def file_feedback(say, opening: str, *, location: str = "thôn Lao Chải, xã Tả Van, Sa Pa",
                  max_turns: int = 12, confirm: bool = True) -> tuple[str | None, list[list[dict]]]:
    """Answer the feedback form the way a hurried citizen does: give the place when asked, skip
    what can be skipped, refuse to leave a phone number, and press "Gửi" on the summary.

    ``say(text) -> messages``. Returns the tracking code the bot gave (or None) and every turn;
    with ``confirm=False`` it stops at the summary, before pressing "Gửi".
    """
    turns = [say(opening)]
    for _ in range(max_turns):
        messages = turns[-1]
        said = texts(messages)
        if match := TRACKING_CODE.search(said):
            return match.group(0), turns
        offered = buttons(messages)
        if "Gửi" in offered:
            if not confirm:
                return None, turns
            reply = offered["Gửi"]
        elif "xã" in said and "thôn" in said and "?" in said:
            reply = location
        elif "Không" in offered and "điện thoại" in said:
            reply = offered["Không"]
        elif "Bỏ qua" in offered:
            reply = offered["Bỏ qua"]
        else:
            return None, turns
        turns.append(say(reply))
    return None, turns
