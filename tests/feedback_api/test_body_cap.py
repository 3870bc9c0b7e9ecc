"""The 1 MB body cap holds while the body streams in, chunked included (defect 6).

A real server on loopback; bodies are sent with ``Transfer-Encoding: chunked`` over a plain
socket (http.client), so no ``Content-Length`` tells the server the size in advance. The
server's resident memory is sampled from /proc while a 100 MB body arrives.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
import uuid
from collections.abc import Iterable
from pathlib import Path

import pytest

from tests.feedback_api.server import SmtpSink, api_with_tokens, service_env

TOO_LARGE = "Nội dung gửi lên quá lớn."
CHUNK = 64 * 1024


@pytest.fixture(scope="module")
def api(db_url, database, model_dir):
    sink = SmtpSink().start()
    env = service_env(db_url, model_dir, sink.port, CAUNOI_RUN_WORKER="0")
    server = api_with_tokens(env, "bodycap", "service")
    yield server
    server.stop()
    sink.stop()


def post_chunked(api, path: str, chunks: Iterable[bytes], *, ctype: str = "application/json",
                 headers: dict | None = None) -> tuple[int, object]:
    """POST ``chunks`` with chunked transfer encoding; the status and the decoded body."""
    conn = http.client.HTTPConnection("127.0.0.1", api.port, timeout=120)
    try:
        conn.putrequest("POST", path)
        conn.putheader("Content-Type", ctype)
        conn.putheader("Transfer-Encoding", "chunked")
        for name, value in (headers or {}).items():
            conn.putheader(name, value)
        conn.endheaders()
        try:
            for chunk in chunks:
                conn.send(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            conn.send(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may stop listening once it has answered; read what it said
        response = conn.getresponse()
        payload = response.read()
        return response.status, json.loads(payload or b"null")
    finally:
        conn.close()


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_chunked_100_mb_login_gets_413_without_being_buffered(api):
    pid = api.proc.pid  # one API process (CAUNOI_API_WORKERS=1): uvicorn runs in it
    baseline = rss_kib(pid)
    peak = [baseline]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], rss_kib(pid))
            time.sleep(0.01)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    block = b"username=admin&password=" + b"x" * (CHUNK - 24)
    try:
        status, body = post_chunked(api, "/inbox/login", (block for _ in range(1600)),
                                    ctype="application/x-www-form-urlencoded")
    finally:
        done.set()
        sampler.join()
    assert status == 413, body
    assert body == {"detail": TOO_LARGE}
    grown_mib = (peak[0] - baseline) / 1024
    assert grown_mib < 30, f"the server grew by {grown_mib:.0f} MiB for a refused body"
    # The connection was not the only thing left standing: the server still answers.
    assert api.request("GET", "/healthz")[0] == 200


def test_chunked_json_over_the_cap_gets_413(api):
    chunks = (b" " * CHUNK for _ in range(20))  # 1.3 MB of whitespace: valid JSON padding
    status, body = post_chunked(api, "/api/v1/feedback", chunks,
                                headers={"Authorization": f"Bearer {api.tokens['service']}"})
    assert status == 413, body
    assert body == {"detail": TOO_LARGE}


def test_open311_keeps_its_error_shape_for_a_chunked_body_over_the_cap(api):
    chunks = (b"description=" + b"x" * CHUNK for _ in range(20))
    status, body = post_chunked(api, "/open311/v2/requests.json", chunks,
                                ctype="application/x-www-form-urlencoded")
    assert status == 413, body
    assert body == [{"code": 413, "description": TOO_LARGE}]


def test_content_length_over_the_cap_is_refused_before_reading(api):
    conn = http.client.HTTPConnection("127.0.0.1", api.port, timeout=30)
    try:
        conn.putrequest("POST", "/api/v1/feedback")
        conn.putheader("Content-Type", "application/json")
        conn.putheader("Content-Length", str(500_000_000))
        conn.endheaders()
        conn.send(b"{" * CHUNK)  # 500 MB announced, 64 KB sent: the answer comes anyway
        response = conn.getresponse()
        assert response.status == 413
        assert json.loads(response.read()) == {"detail": TOO_LARGE}
    finally:
        conn.close()


def test_a_chunked_body_under_the_cap_reaches_the_route(api):
    body = json.dumps({
        "kind": "complaint", "channel": "web", "sender_id": "web-chunked",
        "text": "Đèn đường ở tổ 5 phường Cốc Lếu tắt cả tuần nay, đi lại ban đêm rất nguy hiểm.",
        "idempotency_key": f"chunked-{uuid.uuid4().hex}",
    }).encode()
    pieces = [body[i:i + 7] for i in range(0, len(body), 7)]  # many small chunks
    status, created = post_chunked(api, "/api/v1/feedback", pieces,
                                   headers={"Authorization": f"Bearer {api.tokens['service']}"})
    assert status == 201, created
    assert created["tracking_code"]


def test_nul_in_a_chunked_body_is_still_refused(api):
    body = json.dumps({"kind": "complaint", "channel": "web", "text": "a\u0000b",
                       "idempotency_key": f"nul-{uuid.uuid4().hex}"}).encode()
    status, payload = post_chunked(api, "/api/v1/feedback", [body[:10], body[10:]],
                                   headers={"Authorization": f"Bearer {api.tokens['service']}"})
    assert status == 422, payload
    assert "NUL" in payload["detail"]
