"""Two `rasa run` processes with bot/endpoints.production.yml: one PostgreSQL tracker store,
one Redis lock store (addons.lock_store.AtomicRedisLockStore), messages for one conversation
fired at both at once. Every message must end up in the tracker, each exactly once.

Rasa is started from bot/ with only the repository on PYTHONPATH (for the shared text rules in
``vietnamese/``), as the Docker image runs it: the lock store is imported from the working
directory. The model comes from ``stores_model`` (conftest.py):
$CAUNOI_RASA_MODEL or the suite's ``rasa_model``. The action server is a stand-in that answers
every action with no events: what is tested here is storage, not dialogue.
$CAUNOI_TEST_RASA_ENDPOINTS swaps the endpoints file, e.g. for one with Rasa's stock
``type: redis`` lock store, which loses or rejects messages here (REFERENCE.md 5.3).
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import threading
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from scripts.stack import BOT, RASA_VENV, REPO, start_rasa, wait_healthy
from tests.feedback_api.conftest import free_port

pytestmark = pytest.mark.skipif(not (RASA_VENV / "bin" / "rasa").exists(),
                                reason="needs .venv-rasa (make install)")
ROUNDS, PER_ROUND = 3, 8
ENDPOINTS = os.environ.get("CAUNOI_TEST_RASA_ENDPOINTS", str(BOT / "endpoints.production.yml"))


class SilentActions:
    """An action server that runs every action and changes nothing."""

    def __init__(self) -> None:
        self.port = free_port()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server's hook name
                self._reply(b'{"status": "ok"}')

            def do_POST(self):  # noqa: N802
                self.rfile.read(int(self.headers["Content-Length"]))
                self._reply(b'{"events": [], "responses": []}')

            def _reply(self, body: bytes) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def post(url: str, body: dict, timeout: float = 180) -> tuple[int, object]:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode(errors="replace")


def get_json(url: str) -> object:
    with urllib.request.urlopen(url, timeout=60) as response:
        return json.loads(response.read())


def redis_exists(host: str, port: int, key: str) -> int:
    """EXISTS in db 1, in plain RESP (the test environment has no Redis client)."""
    def command(*parts: str) -> bytes:
        return f"*{len(parts)}\r\n".encode() + b"".join(
            f"${len(p.encode())}\r\n".encode() + p.encode() + b"\r\n" for p in parts)

    with socket.create_connection((host, port), timeout=5) as s:
        s.sendall(command("SELECT", "1") + command("EXISTS", key))
        data = b""
        while data.count(b"\r\n") < 2:
            data += s.recv(64)
    return int(data.split(b"\r\n")[1][1:])


@pytest.fixture(scope="module")
def rasas(stores_model, tracker_database, redis_server, tmp_path_factory):
    """Two Rasa processes sharing the stores; yields their base URLs."""
    actions = SilentActions()
    logs = tmp_path_factory.mktemp("rasa-stores")
    host, port = redis_server
    env = {
        # the image's PYTHONPATH (the repository: vietnamese/); only the working directory (bot/)
        # finds addons.lock_store
        "PYTHONPATH": str(REPO),
        "RASA_ACTIONS_URL": f"http://127.0.0.1:{actions.port}/webhook",
        "RASA_DB_HOST": tracker_database["host"], "RASA_DB_PORT": tracker_database["port"],
        "RASA_DB_USER": tracker_database["user"],
        "RASA_DB_PASSWORD": tracker_database["password"],
        "RASA_DB_NAME": tracker_database["db"], "RASA_DB_LOGIN_DB": "postgres",
        "REDIS_HOST": host, "REDIS_PORT": str(port), "REDIS_PASSWORD": "",
        "SQL_POOL_SIZE": "3", "SQL_MAX_OVERFLOW": "2",
    }
    ports = [free_port(), free_port()]
    services = [start_rasa(port=p, model=stores_model, endpoints=Path(ENDPOINTS),
                           log_path=logs / f"rasa-{i}.log", enable_api=True, **env)
                for i, p in enumerate(ports)]
    try:
        wait_healthy(services, timeout=900, log=lambda _: None)
        yield [f"http://127.0.0.1:{p}" for p in ports], services
    finally:
        for service in services:
            service.stop()
        actions.stop()


def test_concurrent_messages_for_one_sender_on_two_processes_are_all_kept(
        rasas, tracker_database, redis_server):
    from sqlalchemy import create_engine, text

    urls, services = rasas
    sender = f"web-stores-{secrets.token_hex(6)}"
    sent: list[str] = []
    with ThreadPoolExecutor(max_workers=PER_ROUND) as pool:
        for round_ in range(ROUNDS):
            batch = [f"xin chào {round_}-{i}" for i in range(PER_ROUND)]
            sent += batch
            futures = [pool.submit(post, urls[i % 2] + "/webhooks/rest/webhook",
                                   {"sender": sender, "message": message})
                       for i, message in enumerate(batch)]
            results = [f.result() for f in futures]
            assert all(status == 200 for status, _ in results), results

    tracker = get_json(f"{urls[0]}/conversations/{sender}/tracker?include_events=ALL")
    said = [e["text"] for e in tracker["events"] if e["event"] == "user"]
    assert sorted(said) == sorted(sent)  # none lost, none twice
    starts = [e for e in tracker["events"] if e["event"] == "session_started"]
    assert len(starts) == 1  # the first two messages were not handled side by side
    # The other process reads the same conversation from PostgreSQL.
    other = get_json(f"{urls[1]}/conversations/{sender}/tracker?include_events=ALL")
    assert len(other["events"]) == len(tracker["events"])

    engine = create_engine(tracker_database["url"].replace("postgresql://",
                                                           "postgresql+psycopg://"))
    with engine.connect() as conn:
        stored = conn.execute(text("SELECT count(*) FROM events WHERE sender_id = :s "
                                   "AND type_name = 'user'"), {"s": sender}).scalar_one()
    engine.dispose()
    assert stored == ROUNDS * PER_ROUND

    host, port = redis_server
    assert redis_exists(host, port, f"caunoi:lock:{sender}") == 0  # every ticket given back
    for service in services:
        log = service.log_path.read_text(errors="replace")
        assert "LockError" not in log and "Could not acquire lock" not in log
