"""Department webhooks (defect 11): a secret per department shown once, signatures over a
timestamp, and no destinations on the service's own network. Real API servers, a real receiver
on loopback, on SQLite and PostgreSQL; the receiver verifies with the snippet in docs/api.md.
"""

from __future__ import annotations

import re
import socket
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import update

from feedback_api.departments import webhooks
from feedback_api.notify.orm import OutboxMessage
from feedback_api.notify.senders import WebhookSender
from feedback_api.notify.service import enqueue_webhook
from feedback_api.notify.worker import Worker
from tests.conftest import REPO
from tests.feedback_api.server import api_with_tokens, cli, service_env
from tests.feedback_api.test_inbox import PASSWORD, Browser

REFUSED = "webhook destination refused: not a public address"
PRIVATE = ["http://127.0.0.1/", "http://10.0.0.1/", "http://[::1]/", "http://localhost:8080/h",
           "http://169.254.169.254/latest/meta-data", "http://0.0.0.0/", "http://[::ffff:127.0.0.1]/",
           "http://224.0.0.1/", "http://100.64.0.1/"]


def docs_verify():
    """The receiver's ``verify`` from docs/api.md, run as written."""
    text = (REPO / "docs" / "api.md").read_text(encoding="utf-8")
    [code] = [c for c in re.findall(r"```python\n(.*?)```", text, re.S) if "def verify" in c]
    namespace: dict = {}
    exec(compile(code, "docs/api.md", "exec"), namespace)  # noqa: S102 - our own documentation
    return namespace["verify"]


verify = docs_verify()


@pytest.fixture(scope="module")
def receiver():
    """An HTTP server on loopback that records every POST and answers 200."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            with server.lock:
                server.requests.append((self.path, self.headers, body))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.requests, server.lock = [], threading.Lock()
    server.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def received(receiver, path: str, containing: bytes = b"", timeout: float = 60) -> list:
    """The requests to ``path`` whose body contains ``containing``, once there is one (or fail
    at the deadline)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with receiver.lock:
            found = [(h, b) for p, h, b in receiver.requests if p == path and containing in b]
        if found:
            return found
        time.sleep(0.1)
    pytest.fail(f"no webhook to {path} with {containing!r} in {timeout} s")


@pytest.fixture(scope="module")
def strict(db_url, database, model_dir, smtp):
    """The service as shipped: private webhook destinations refused. Its worker is off, so that
    it does not take the in-process tests' outbox rows."""
    env = service_env(db_url, model_dir, smtp.port, CAUNOI_WEBHOOK_ALLOW_PRIVATE="0",
                      CAUNOI_RUN_WORKER="0")
    cli("user", "create", "--username", "webhook-admin", "--role", "admin", "--password",
        PASSWORD, env=env)
    server = api_with_tokens(env, "webhooks-strict", "admin")
    yield server
    server.stop()


@pytest.fixture
def lenient(db_url, database, model_dir, smtp):
    """The service with CAUNOI_WEBHOOK_ALLOW_PRIVATE on, for a receiver on loopback; stopped
    after its test (its worker would deliver other tests' rows), and the departments' webhooks
    are cleared (the database is shared by the session)."""
    from feedback_api.departments.orm import Department

    env = service_env(db_url, model_dir, smtp.port, CAUNOI_WEBHOOK_ALLOW_PRIVATE="1")
    server = api_with_tokens(env, "webhooks", "admin", "service")
    yield server
    server.stop()
    with database.session() as s:
        s.execute(update(Department).values(webhook_url=None))


def set_webhook(api, code: str, url: str) -> tuple[int, dict]:
    return api.request("PATCH", f"/api/v1/departments/{code}", {"webhook_url": url},
                       token=api.tokens["admin"])


def submit(api, service_code: str) -> str:
    body = {"service_code": service_code,
            "description": f"Cầu treo bản {uuid.uuid4().hex[:6]} hỏng ván, đi lại nguy hiểm"}
    status, created = api.request("POST", "/open311/v2/requests.json", body,
                                  token=api.tokens["service"])
    assert status == 201, created
    return created[0]["service_request_id"]


def test_each_department_signs_with_its_own_secret_over_a_timestamp(lenient, receiver):
    secrets = {}
    for code in ("xay-dung", "y-te"):
        status, dept = set_webhook(lenient, code, f"{receiver.url}/hooks/{code}")
        assert status == 200, dept
        assert re.fullmatch(r"[0-9a-f]{64}", dept["webhook_secret"] or "")
        assert dept["webhook_secret_version"] == 1
        secrets[code] = dept["webhook_secret"]
    assert secrets["xay-dung"] != secrets["y-te"]
    # Shown once: neither reading the department nor saving the same URL again shows it.
    status, dept = lenient.request("GET", "/api/v1/departments/xay-dung",
                                   token=lenient.tokens["admin"])
    assert status == 200 and dept["webhook_secret"] is None
    assert set_webhook(lenient, "xay-dung", f"{receiver.url}/hooks/xay-dung")[1][
        "webhook_secret"] is None

    codes = {code: submit(lenient, f"{code}.complaint") for code in secrets}
    for code, secret in secrets.items():
        [(headers, body)] = received(receiver, f"/hooks/{code}", codes[code].encode())
        stamp = int(headers["X-CauNoi-Timestamp"])
        assert abs(stamp - time.time()) < 120
        assert verify(secret, headers, body)
        other = secrets["y-te" if code == "xay-dung" else "xay-dung"]
        assert not verify(other, headers, body)  # a department cannot forge another's
        # A replay later is refused: the old timestamp is out of tolerance, and a fresh one
        # does not match the signature.
        assert not verify(secret, headers, body, now=stamp + 301)
        assert verify(secret, headers, body, now=stamp + 299)
        replayed = {**dict(headers.items()), "X-CauNoi-Timestamp": str(stamp + 600)}
        assert not verify(secret, replayed, body, now=stamp + 600)
        assert not verify(secret, headers, body.replace(b"complaint", b"proposal"), now=stamp)

    # Rotating ends the old secret at once; the new one is shown once and signs what follows.
    status, rotated = lenient.request("POST", "/api/v1/departments/xay-dung/webhook-secret",
                                      token=lenient.tokens["admin"])
    assert status == 200 and rotated["webhook_secret_version"] == 2
    assert rotated["webhook_secret"] not in (None, secrets["xay-dung"])
    later = submit(lenient, "xay-dung.complaint")
    [(headers, body)] = received(receiver, "/hooks/xay-dung", later.encode())
    assert verify(rotated["webhook_secret"], headers, body)
    assert not verify(secrets["xay-dung"], headers, body)


@pytest.mark.parametrize("url", PRIVATE)
def test_private_destinations_are_refused_when_saved(strict, url):
    status, body = set_webhook(strict, "tu-phap", url)
    assert status == 422, body
    assert "địa chỉ nội bộ" in body["detail"], body
    status, dept = strict.request("GET", "/api/v1/departments/tu-phap",
                                  token=strict.tokens["admin"])
    assert dept["webhook_url"] is None and dept["webhook_secret_version"] == 0


@pytest.mark.parametrize("url", ["ftp://hooks.example/x", "http://user:pw@hooks.example/",
                                 "http://khong-ton-tai.invalid/hook"])
def test_unusable_urls_are_refused_in_vietnamese(strict, url):
    status, body = set_webhook(strict, "tu-phap", url)
    assert status == 422 and "webhook" in body["detail"].lower(), body


def test_admin_page_refuses_a_private_destination_and_saves_nothing(strict, database):
    from feedback_api.departments.orm import Department

    admin = Browser(strict.base)
    assert admin.login("webhook-admin").status == 303
    admin.get("/inbox/admin/departments/tu-phap")
    page = admin.post("/inbox/admin/departments/tu-phap", {
        "name": "Sở Tư pháp", "mandate": "Hộ tịch", "webhook_url": "http://localhost/hook",
        "liaison_name": "Đổi tên", "liaison_email": "", "liaison_zalo_user_id": "",
        "liaison_phone": ""})
    assert page.status == 303
    shown = admin.get(page.location).text
    assert "flash-error" in shown and "địa chỉ nội bộ" in shown
    with database.session() as s:
        dept = s.get(Department, "tu-phap")
        assert dept.webhook_url is None and dept.liaisons[0].name != "Đổi tên"
    # A new secret is shown on its own page, once, and never cached.
    admin.get("/inbox/admin/departments/khoa-hoc-cong-nghe")
    page = admin.post("/inbox/admin/departments/khoa-hoc-cong-nghe/webhook-secret", {})
    assert page.status == 200 and "no-store" in page.headers["cache-control"]
    [secret] = re.findall(r'id="webhook-secret">([0-9a-f]{64})<', page.text)
    again = admin.get("/inbox/admin/departments/khoa-hoc-cong-nghe")
    assert secret not in again.text and "phiên bản" in again.text


def queue(database, url: str) -> int:
    with database.session() as session:
        return enqueue_webhook(session, url=url, event="feedback.routed",
                               data={"tracking_code": "PA-7K3M9QX2", "department": "y-te"},
                               dedupe_key=f"test:{uuid.uuid4().hex}:hook").id


def outcome(database, message_id: int) -> tuple[str, str | None]:
    with database.session() as session:
        row = session.get(OutboxMessage, message_id)
        return row.status, row.last_error


def test_private_destinations_are_refused_at_send(database, receiver):
    """A URL stored before the check (or by hand) is still refused when the worker sends."""
    port, tag = receiver.server_address[1], f"/send-{uuid.uuid4().hex[:8]}"
    urls = [f"{receiver.url}{tag}/v4", f"http://10.0.0.1{tag}", f"http://[::1]:{port}{tag}/v6",
            f"http://localhost:{port}{tag}/name"]
    ids = [queue(database, url) for url in urls]
    worker = Worker(database, {"webhook": WebhookSender(b"k", timeout=2)},
                    backoff=lambda attempt: 3600)
    for message_id in ids:
        while worker.run_once():
            pass
        assert outcome(database, message_id) == ("dead", REFUSED)
    with receiver.lock:
        assert not [p for p, _h, _b in receiver.requests if p.startswith(tag)]
    # The same loopback receiver is reached when the setting allows private destinations.
    allowed = queue(database, f"{receiver.url}{tag}/allowed")
    Worker(database, {"webhook": WebhookSender(b"k", timeout=2, allow_private=True)}).run_once()
    assert outcome(database, allowed) == ("sent", None)
    assert received(receiver, f"{tag}/allowed")


def test_the_sender_connects_to_the_address_it_checked(database, receiver, monkeypatch):
    """One DNS answer is checked and used: a second lookup (a rebinding DNS server's chance to
    answer differently) never happens, and the Host header keeps the name."""
    real, lookups = socket.getaddrinfo, []

    def rebinding_dns(host, *args, **kwargs):
        if host == "hooks.caunoi.test":
            lookups.append(host)
            if len(lookups) > 1:
                raise AssertionError("resolved twice")
            host = "127.0.0.1"
        return real(host, *args, **kwargs)

    monkeypatch.setattr(webhooks.socket, "getaddrinfo", rebinding_dns)
    port = receiver.server_address[1]
    path = f"/pinned-{uuid.uuid4().hex[:8]}"
    message_id = queue(database, f"http://hooks.caunoi.test:{port}{path}")
    worker = Worker(database, {"webhook": WebhookSender(b"k", timeout=2, allow_private=True)})
    worker.run_once()
    assert outcome(database, message_id) == ("sent", None)
    [(headers, _body)] = received(receiver, path)
    assert headers["Host"] == f"hooks.caunoi.test:{port}" and lookups == ["hooks.caunoi.test"]


def test_address_rules():
    import ipaddress

    for text in ("8.8.8.8", "2001:4860:4860::8888", "14.225.0.1"):
        assert webhooks.is_public(ipaddress.ip_address(text)), text
    for text in ("127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254",
                 "100.64.0.1", "0.0.0.0", "224.0.0.1", "240.0.0.1", "::1", "fe80::1", "fc00::1",
                 "ff02::1", "::ffff:10.0.0.1", "2002:7f00:1::1", "64:ff9b::7f00:1"):
        assert not webhooks.is_public(ipaddress.ip_address(text)), text
