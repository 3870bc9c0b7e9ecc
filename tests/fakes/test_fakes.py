"""The fakes refuse what the platforms refuse, so a gateway that passes against them sends what
Zalo and Meta accept; and the signing helpers compute the documented values."""

from __future__ import annotations

import hashlib
import hmac
import json
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from threading import Thread

import pytest

from tests.fakes.__main__ import main, read_env
from tests.fakes.platforms import (
    FakeMeta,
    FakeZalo,
    messenger_batch,
    messenger_signature,
    messenger_text,
    zalo_event,
    zalo_headers,
    zalo_signature,
)

REPO = Path(__file__).resolve().parents[2]
APP_SECRET, PAGE_TOKEN = "meta-app-secret", "page-token"
PROOF = hmac.new(APP_SECRET.encode(), PAGE_TOKEN.encode(), hashlib.sha256).hexdigest()


def post(url: str, body: bytes | dict, headers: dict | None = None) -> tuple[int, dict]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method="POST", headers={
        "Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        with err:
            raw = err.read()
        return err.code, json.loads(raw) if raw.startswith(b"{") else {"raw": raw}


@pytest.fixture
def zalo():
    with FakeZalo(app_id="3608", app_secret="app-secret", access_token="at-1",
                  refresh_token="rt-1") as fake:
        yield fake


@pytest.fixture
def meta():
    with FakeMeta(app_secret=APP_SECRET, page_token=PAGE_TOKEN) as fake:
        yield fake


def zalo_send(fake: FakeZalo, message: dict, token: str | None = None) -> tuple[int, dict]:
    return post(fake.url + "/v3.0/oa/message/cs",
                {"recipient": {"user_id": "u1"}, "message": message},
                {"access_token": token or fake.access_token})


def zalo_refresh(fake: FakeZalo, refresh_token: str) -> tuple[int, dict]:
    form = urllib.parse.urlencode({"refresh_token": refresh_token, "app_id": "3608",
                                   "grant_type": "refresh_token"}).encode()
    return post(fake.url + "/v4/oa/access_token", form, {
        "Content-Type": "application/x-www-form-urlencoded", "secret_key": "app-secret"})


def graph_send(fake: FakeMeta, body: dict, *, proof: str = PROOF,
               version: str = "v25.0") -> tuple[int, dict]:
    query = urllib.parse.urlencode({"access_token": PAGE_TOKEN, "appsecret_proof": proof})
    return post(f"{fake.url}/{version}/me/messages?{query}", body)


def graph_text(text: str = "Xin chào", **extra) -> dict:
    return {"recipient": {"id": "p1"}, "messaging_type": "RESPONSE",
            "message": {"text": text, **extra}}


def buttons(n: int) -> dict:
    return {"type": "template", "payload": {"buttons": [
        {"title": f"Chọn {i}", "type": "oa.query.hide", "payload": f"/choose{i}"}
        for i in range(n)]}}


def test_zalo_accepts_a_correct_send_and_records_it(zalo):
    status, body = zalo_send(zalo, {"text": "Chào bạn", "attachment": buttons(4)})
    assert status == 200 and body["error"] == 0 and body["data"]["user_id"] == "u1"
    [entry] = zalo.wait_sent(1, timeout=1)
    assert entry["message_id"] == body["data"]["message_id"]
    assert entry["access_token"] == "at-1" and zalo.texts_to("u1") == ["Chào bạn"]
    assert [b["payload"] for b in zalo.buttons_of(entry["message"])] == [
        "/choose0", "/choose1", "/choose2", "/choose3"]
    assert zalo.requests[0]["path"] == "/v3.0/oa/message/cs"


def test_zalo_refuses_with_http_200_like_zalo(zalo):
    assert zalo_send(zalo, {"text": "x"}, token="wrong") == (
        200, {"error": -216, "message": "Access token is invalid"})
    status, body = zalo_send(zalo, {"text": "Chào bạn", "attachment": buttons(5)})
    assert (status, body["error"]) == (200, -201)
    assert body["message"] == "message.attachment.payload.buttons is invalid!"
    assert zalo_send(zalo, {"attachment": buttons(1)})[1]["error"] == -201  # buttons need text
    assert zalo_send(zalo, {"text": "x" * 2001})[1]["error"] == -201
    zalo.close_window("u1")
    assert zalo_send(zalo, {"text": "x"})[1]["error"] == -230
    assert zalo.sent == [] and [f["reason"] for f in zalo.failed] == [
        "error:-216", "error:-201", "error:-201", "error:-201", "error:-230"]


def test_zalo_refresh_rotates_and_a_reused_token_fails(zalo):
    zalo.expire_token()
    assert zalo_send(zalo, {"text": "x"})[1]["error"] == -216
    status, body = zalo_refresh(zalo, "rt-1")
    assert status == 200 and body["expires_in"] == "90000"
    assert body["access_token"] == zalo.access_token != "at-1"
    assert body["refresh_token"] == zalo.refresh_token != "rt-1"
    assert zalo_refresh(zalo, "rt-1")[1]["error"] == -14014
    assert zalo.reused_refresh_tokens == 1 and len(zalo.refreshes) == 1
    assert zalo_send(zalo, {"text": "x"}, token="at-1")[1]["error"] == -216
    assert zalo_send(zalo, {"text": "x"})[1]["error"] == 0


def test_meta_checks_token_and_appsecret_proof(meta):
    status, body = graph_send(meta, graph_text(), proof="0" * 64)
    assert status == 400 and body["error"]["code"] == 100
    assert body["error"]["type"] == "OAuthException" and body["error"]["fbtrace_id"]
    assert graph_send(meta, graph_text(), version="v2.12")[1]["error"]["code"] == 2500
    meta.revoke_token()
    assert graph_send(meta, graph_text())[1]["error"]["code"] == 190
    meta.restore_token()
    status, body = graph_send(meta, graph_text())
    assert status == 200 and body["message_id"].startswith("m_") and body["recipient_id"] == "p1"
    assert meta.texts_to("p1") == ["Xin chào"]


def test_meta_refuses_what_messenger_refuses(meta):
    def reply(i: int) -> dict:
        return {"content_type": "text", "title": f"Ý {i}", "payload": f"/p{i}"}

    status, body = graph_send(meta, graph_text(quick_replies=[reply(i) for i in range(14)]))
    assert status == 400 and body["error"]["code"] == 100
    assert graph_send(meta, graph_text(quick_replies=[reply(i) for i in range(13)]))[0] == 200
    tagged = {**graph_text(), "messaging_type": "MESSAGE_TAG", "tag": "ACCOUNT_UPDATE"}
    assert graph_send(meta, tagged)[1]["error"]["code"] == 100
    meta.close_window("p1")
    error = graph_send(meta, graph_text())[1]["error"]
    assert (error["code"], error["error_subcode"]) == (10, 2018278)
    assert graph_send(meta, {**tagged, "tag": "HUMAN_AGENT"})[0] == 200
    assert len(meta.sent) == 2 and len(meta.failed) == 3


def test_injected_failures_then_success(meta, zalo):
    meta.fail_next(1, "error:2")
    status, body = graph_send(meta, graph_text())
    assert status == 400 and body["error"]["code"] == 2 and meta.sent == []
    assert graph_send(meta, graph_text())[0] == 200
    zalo.timeout_seconds = 0.3
    zalo.fail_next(1, "timeout")
    zalo.fail_next(1, "http500")
    started = time.monotonic()
    assert zalo_send(zalo, {"text": "x"})[0] == 500
    assert 0.25 < time.monotonic() - started < 2
    assert zalo_send(zalo, {"text": "x"})[0] == 500
    assert [f["reason"] for f in zalo.failed] == ["timeout", "http500"]
    assert zalo_send(zalo, {"text": "x"})[1]["error"] == 0


def test_stop_answers_a_request_held_by_a_timeout(zalo):
    zalo.fail_next(1, "timeout")  # held for 15 s unless the fake stops
    replies: list = []
    client = Thread(target=lambda: replies.append(zalo_send(zalo, {"text": "x"})))
    client.start()
    time.sleep(0.2)
    started = time.monotonic()
    zalo.stop()
    client.join(3)
    assert replies == [(500, {"raw": b"Gateway Timeout"})] and time.monotonic() - started < 1


def test_signature_helpers_give_the_documented_values():
    raw = '{"timestamp":"1700000000000","message":{"text":"chào"}}'.encode()
    mac = hashlib.sha256(b"3608" + raw + b"1700000000000" + b"oa-secret").hexdigest()
    assert zalo_signature("3608", raw, "1700000000000", "oa-secret") == "mac=" + mac
    assert zalo_headers(raw, app_id="3608", oa_secret="oa-secret", header_timestamp=False) == {
        "Content-Type": "application/json", "X-ZEvent-Signature": "mac=" + mac}
    signed = zalo_headers(raw, app_id="3608", oa_secret="oa-secret", timestamp_ms="1700000000001")
    assert signed["X-ZEvent-Timestamp"] == "1700000000001" and signed["X-ZEvent-Signature"] == (
        "mac=" + hashlib.sha256(b"3608" + raw + b"1700000000001oa-secret").hexdigest())
    hub = hmac.new(b"app-secret", raw, hashlib.sha256).hexdigest()
    assert messenger_signature("app-secret", raw) == "sha256=" + hub
    batch = messenger_batch([[messenger_text("p1", "chào", mid="m_1", ts=1)]])
    assert b"\\u00e0" in batch and batch.isascii()
    event = json.loads(zalo_event(app_id="3608", user_id="u1", text="chào", timestamp_ms=5))
    assert event["timestamp"] == "5" and event["sender"] == {"id": "u1"}
    assert event["event_name"] == "user_send_text" and isinstance(event["message"]["msg_id"], str)


class Webhook(BaseHTTPRequestHandler):
    """Stands in for our API's webhook: keeps what ``say`` posted."""

    received: list[tuple[str, Message, bytes]] = []

    def do_POST(self):  # noqa: N802 - http.server's hook name
        raw = self.rfile.read(int(self.headers["Content-Length"]))
        Webhook.received.append((self.path, self.headers, raw))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def test_cli_serves_and_says(tmp_path):
    """``serve`` writes a private env file whose secrets work on its fakes and shows the sent
    message; ``say`` signs with that file's secrets."""
    env_file = tmp_path / "fake.env"
    proc = subprocess.Popen(
        [sys.executable, "-u", "-m", "tests.fakes", "serve", "--env-file", str(env_file),
         "--zalo-port", "0", "--meta-port", "0"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 4
        while not env_file.exists():
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.05)
        assert env_file.stat().st_mode & 0o777 == 0o600
        env = read_env(env_file)
        status, body = post(env["CAUNOI_ZALO_OPENAPI_URL"] + "/v3.0/oa/message/cs",
                            {"recipient": {"user_id": "u9"}, "message": {"text": "Đã nhận"}},
                            {"access_token": env["CAUNOI_ZALO_ACCESS_TOKEN"]})
        assert (status, body["error"]) == (200, 0)
        time.sleep(0.4)  # the watcher polls every 0.2 s
    finally:
        proc.send_signal(signal.SIGINT)
        output, _ = proc.communicate(timeout=5)
    assert proc.returncode == 0, output
    assert "[Zalo → u9] Đã nhận" in output

    Webhook.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Webhook)
    Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    api = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        for argv in (["zalo", "xin chào"], ["messenger", "--payload", "/affirm"]):
            assert main(["say", *argv, "--user", "u9", "--api", api,
                         "--env-file", str(env_file)]) == 0
    finally:
        server.shutdown()
        server.server_close()
    (zalo_path, zalo_hdrs, zalo_raw), (fb_path, fb_hdrs, fb_raw) = Webhook.received
    assert (zalo_path, fb_path) == ("/webhooks/zalo", "/webhooks/messenger")
    assert zalo_hdrs["X-ZEvent-Signature"] == zalo_signature(
        env["CAUNOI_ZALO_APP_ID"], zalo_raw, zalo_hdrs["X-ZEvent-Timestamp"],
        env["CAUNOI_ZALO_OA_SECRET"])
    assert json.loads(zalo_raw)["message"]["text"] == "xin chào"
    assert fb_hdrs["X-Hub-Signature-256"] == messenger_signature(
        env["CAUNOI_MESSENGER_APP_SECRET"], fb_raw)
    assert json.loads(fb_raw)["entry"][0]["messaging"][0]["postback"]["payload"] == "/affirm"
