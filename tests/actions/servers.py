"""The real action server (Python 3.10, .venv-rasa) and the real API on a port that survives a
restart, plus Rasa-shaped calls to the action server's /webhook."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from tests.conftest import REPO
from tests.feedback_api.conftest import free_port

RASA_PYTHON = REPO / ".venv-rasa" / "bin" / "python"
RASA_VERSION = "3.6.21"


def http(method: str, url: str, body=None, *, token: str | None = None,
         timeout: float = 60) -> tuple[int, dict | list]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as err:
        raw = err.read()
        try:
            return err.code, json.loads(raw or b"{}")
        except json.JSONDecodeError:
            return err.code, {"_raw": raw.decode(errors="replace")}


def wait_until_up(url: str, proc: subprocess.Popen, log: Path, seconds: float = 180) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{url} exited:\n{log.read_text(errors='replace')[-5000:]}")
        try:
            with urllib.request.urlopen(url, timeout=5) as resp:
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    proc.kill()
    raise RuntimeError(f"{url} did not answer in {seconds} s")


class Process:
    """A server subprocess whose output goes to a file; ``restart`` keeps its port."""

    def __init__(self, argv: list[str], env: dict, health: str, port: int | None = None,
                 cwd: Path = REPO) -> None:
        self.port = port or free_port()
        self.argv = [a.replace("{port}", str(self.port)) for a in argv]
        self.env, self.cwd = env, cwd
        self.base = f"http://127.0.0.1:{self.port}"
        self.health = health
        self.log = Path(tempfile.mkstemp(prefix="caunoi-test-", suffix=".log")[1])
        self.proc: subprocess.Popen | None = None
        self.start()

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(self.argv, cwd=self.cwd, env=self.env, stdout=out,
                                         stderr=subprocess.STDOUT)
        wait_until_up(self.base + self.health, self.proc, self.log)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def api_server(env: dict, port: int | None = None) -> Process:
    return Process([sys.executable, "-m", "feedback_api", "serve", "--port", "{port}"],
                   env, "/healthz", port)


def action_server(env: dict) -> Process:
    return Process([str(RASA_PYTHON), "-m", "actions", "--port", "{port}"],
                   {**env, "SANIC_HOST": "127.0.0.1"}, "/health")


def load_domain() -> dict:
    """bot/domain as Rasa sends it to the action server (Domain.as_dict, with Rasa's venv)."""
    code = ("import json, sys; from rasa.shared.core.domain import Domain; "
            "sys.stdout.write(json.dumps(Domain.load('bot/domain').as_dict()))")
    out = subprocess.run([str(RASA_PYTHON), "-W", "ignore", "-c", code], cwd=REPO,
                         capture_output=True, text=True, timeout=300, check=True)
    return json.loads(out.stdout)


class Conversation:
    """A tracker built event by event as Rasa would, sent to the real action server.

    ``say`` adds a user message (with the intent and entities NLU would give); ``run`` posts
    the action call and applies the returned events, as Rasa does.
    """

    def __init__(self, actions: Process, domain: dict, sender: str,
                 channel: str = "rest") -> None:
        self.url = actions.base + "/webhook"
        self.domain, self.sender, self.channel = domain, sender, channel
        self.slots: dict = {name: spec.get("initial_value")
                            for name, spec in domain["slots"].items()}
        self.events: list[dict] = [{"event": "action", "name": "action_session_start",
                                    "timestamp": time.time()},
                                   {"event": "session_started", "timestamp": time.time()},
                                   {"event": "action", "name": "action_listen",
                                    "timestamp": time.time()}]
        self.latest_message: dict = {}
        self.active_loop: str | None = None

    def say(self, text: str, intent: str, **entities: str) -> Conversation:
        parse = {
            "text": text,
            "intent": {"name": intent, "confidence": 0.99},
            "entities": [{"entity": k, "value": v, "start": 0, "end": len(v)}
                         for k, v in entities.items()],
            "message_id": f"m{len(self.events)}",
            "metadata": {},
        }
        self.latest_message = parse
        self.events.append({"event": "user", "text": text, "parse_data": parse,
                            "input_channel": self.channel, "message_id": parse["message_id"],
                            "metadata": {}, "timestamp": time.time()})
        return self

    def set(self, **slots) -> Conversation:
        for name, value in slots.items():
            self.slots[name] = value
            self.events.append({"event": "slot", "name": name, "value": value,
                                "timestamp": time.time()})
        return self

    def _state(self) -> dict:
        latest_action = next((e["name"] for e in reversed(self.events)
                              if e["event"] == "action"), None)
        return {
            "sender_id": self.sender,
            "slots": dict(self.slots),
            "latest_message": self.latest_message,
            "latest_event_time": self.events[-1]["timestamp"],
            "followup_action": None,
            "paused": False,
            "events": list(self.events),
            "latest_input_channel": self.channel,
            "active_loop": {"name": self.active_loop} if self.active_loop else {},
            "latest_action": {"action_name": latest_action},
            "latest_action_name": latest_action,
        }

    def run(self, action: str) -> list[dict]:
        """Call one action; returns its responses (events are applied to the tracker)."""
        status, body = http("POST", self.url, {"next_action": action, "sender_id": self.sender,
                                               "tracker": self._state(),
                                               "domain": self.domain, "version": RASA_VERSION})
        assert status == 200, body
        self.events.append({"event": "action", "name": action, "timestamp": time.time()})
        self._apply(body["events"])
        return body["responses"]

    def form(self, **candidates) -> list[dict]:
        """One turn of feedback_form: the slot candidates Rasa extracted, then validation.

        The tracker is the one Rasa's FormAction sends: the events so far, requested_slot,
        the form's ActionExecuted, then the candidates.
        """
        self.active_loop = "feedback_form"
        state_events = list(self.events)
        self.events.append({"event": "slot", "name": "requested_slot",
                            "value": self.slots.get("requested_slot"),
                            "timestamp": time.time()})
        self.events.append({"event": "action", "name": "feedback_form",
                            "timestamp": time.time()})
        self.set(**candidates)
        status, body = http("POST", self.url, {"next_action": "validate_feedback_form",
                                               "sender_id": self.sender,
                                               "tracker": self._state(), "domain": self.domain,
                                               "version": RASA_VERSION})
        assert status == 200, body
        self.events = state_events + [{"event": "action", "name": "feedback_form",
                                       "timestamp": time.time()}]
        self.slots.update(candidates)
        self._apply(body["events"])
        if self.slots.get("requested_slot") is None:
            self.active_loop = None
        return body["responses"]

    def reply(self, text: str, intent: str, **candidates) -> list[dict]:
        """The citizen answers the form's question: ``say``, then one ``form`` turn."""
        return self.say(text, intent).form(**candidates)

    def complaint(self, text: str, *, location: str | None = None,
                  phone: str | None = None) -> Conversation:
        """Open a complaint with ``text`` and answer feedback_form up to the summary: the place
        (or skip it), skip the policy, then consent and the number (or no consent). Ends with
        the citizen's "Gửi" (``/affirm``) said; the caller runs ``action_submit_feedback``."""
        self.say(text, "complain").set(feedback_kind="complaint")
        self.form()
        if location:
            self.reply(location, "give_location", location=location)
        else:
            self.reply("bỏ qua", "skip", location="(bỏ qua)")
        self.reply("bỏ qua", "skip", policy_citation="(bỏ qua)")
        if phone:
            self.reply("có", "affirm", phone_consent=True)
            self.reply(phone, "give_phone", phone=phone)
        else:
            self.reply("không", "deny", phone_consent=False)
        self.say("/affirm", "affirm")
        return self

    def _apply(self, events: list[dict]) -> None:
        for event in events:
            if event.get("event") == "slot":
                self.slots[event["name"]] = event["value"]
            event.setdefault("timestamp", time.time())
            self.events.append(event)


def names(responses: list[dict]) -> list[str]:
    """The response names (or 'custom') of an action's messages, in order."""
    return [r.get("response") or ("custom" if r.get("custom") else "text") for r in responses]


def env_for_actions(api: Process, token: str, outbox: Path, **extra: str) -> dict:
    return {**os.environ, "CAUNOI_API_URL": api.base, "CAUNOI_SERVICE_TOKEN": token,
            "CAUNOI_ACTIONS_OUTBOX": str(outbox), "CAUNOI_PUBLIC_URL": "https://caunoi.example",
            **extra}
