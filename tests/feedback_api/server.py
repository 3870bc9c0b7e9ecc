"""Start the real service (uvicorn subprocess) and a real SMTP server for tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from email import message_from_bytes, policy
from pathlib import Path

from tests.conftest import REPO
from tests.feedback_api.conftest import free_port


class SmtpSink:
    """A real SMTP server (aiosmtpd) on loopback that keeps what it receives."""

    def __init__(self) -> None:
        from aiosmtpd.controller import Controller

        self.messages: list = []
        self.arrivals: dict[str, float] = {}  # first arrival time per subject (benchmarks)
        self._lock = threading.Lock()
        self.port = free_port()
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        msg = message_from_bytes(envelope.content, policy=policy.default)
        with self._lock:
            self.messages.append((list(envelope.rcpt_tos), msg))
            self.arrivals.setdefault(str(msg["Subject"]), time.time())
        return "250 OK"

    def start(self) -> SmtpSink:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()

    def to(self, address: str) -> list:
        with self._lock:
            return [m for rcpts, m in self.messages if address in rcpts]

    def wait_for(self, predicate, timeout: float = 30.0) -> list:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                found = [m for rcpts, m in self.messages if predicate(rcpts, m)]
            if found:
                return found
            time.sleep(0.1)
        return []


def cli(*args: str, env: dict) -> str:
    """Run ``python -m feedback_api ARGS``; returns the last line of its output."""
    out = subprocess.run(
        [sys.executable, "-m", "feedback_api", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    return out.stdout.strip().splitlines()[-1]


class Api:
    """A running API process and small HTTP helpers."""

    def __init__(self, env: dict) -> None:
        self.env = env
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        # Output goes to a file, not a pipe nobody reads (a full pipe would block the server).
        self.log = tempfile.NamedTemporaryFile(prefix="caunoi-api-", suffix=".log", delete=False)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "feedback_api", "serve", "--port", str(self.port)],
            cwd=REPO,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.output()}")
            try:
                if self.request("GET", "/healthz")[0] == 200:
                    return
            except OSError:
                time.sleep(0.3)
        self.stop()
        raise RuntimeError("server did not start in 180 s")

    def request(
        self,
        method: str,
        path: str,
        body=None,
        *,
        token: str | None = None,
        raw: bytes | None = None,
        headers: dict | None = None,
    ) -> tuple[int, dict]:
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        req = urllib.request.Request(self.base + path, data=data, method=method)
        req.add_header("Content-Type", "application/json")
        if token:
            req.add_header("Authorization", f"Bearer {token}")
        for k, v in (headers or {}).items():
            req.add_header(k, v)
        try:
            with urllib.request.urlopen(req, timeout=60) as resp:
                payload = resp.read()
                status = resp.status
        except urllib.error.HTTPError as err:
            payload, status = err.read(), err.code
        try:
            return status, json.loads(payload or b"{}")
        except json.JSONDecodeError:
            return status, {"_raw": payload.decode(errors="replace")}

    def output(self) -> str:
        return Path(self.log.name).read_text(errors="replace")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def api_with_tokens(env: dict, name: str, *roles: str) -> Api:
    """A running API with a new token per role in ``.tokens`` (named ``{name}-{role}``)."""
    server = Api(env)
    server.tokens = {
        role: cli("token", "create", "--role", role, "--name", f"{name}-{role}", env=env)
        for role in roles
    }
    return server


# Ordinary test servers (and the benchmarks) send many requests from one address: their rate
# limits are generous, still counted. tests/feedback_api/test_limits.py sets tight ones.
GENEROUS_LIMITS = {
    **{f"CAUNOI_RATE_LIMIT_{rule}": "100000/minute" for rule in (
        "CHAT", "CHAT_SENDER", "SEARCH", "STATUS", "ARTICLES", "OPEN311", "SUBMISSIONS", "VOTES")},
    "CAUNOI_SUBMISSIONS_PER_DAY": "100000",
    "CAUNOI_OPEN311_SUBMISSIONS_PER_DAY": "100000",
}


def service_env(db_url: str, model_dir, smtp_port: int, **extra: str) -> dict:
    return {
        **os.environ,
        "DATABASE_URL": db_url,
        "CAUNOI_MODEL_DIR": str(model_dir),
        "CAUNOI_LOAD_SEARCH": "0",
        "CAUNOI_SMTP_PORT": str(smtp_port),
        "CAUNOI_WORKER_INTERVAL": "0.2",
        "CAUNOI_API_WORKERS": "1",
        **GENEROUS_LIMITS,
        **extra,
    }
