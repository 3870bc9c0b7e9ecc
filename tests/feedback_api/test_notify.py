"""The outbox and its worker on SQLite and PostgreSQL, against real SMTP and HTTP servers.

The database is shared by the whole test session, so other tests' messages may be in the outbox:
every test uses its own dedupe keys, recipients and URL paths, and counts only those.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.policy import default as default_policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import event, select, text, update

from feedback_api.db import Database, utcnow
from feedback_api.notify.orm import CitizenMessage, OutboxMessage
from feedback_api.notify.senders import (
    CitizenReplySender,
    EmailSender,
    Sender,
    SendError,
    WebChannelSender,
    WebhookSender,
    delivery_id,
)
from feedback_api.notify.service import (
    enqueue_citizen_reply,
    enqueue_email,
    enqueue_webhook,
    messages_for,
    pending_count,
)
from feedback_api.notify.templates import citizen_reply_text, liaison_email
from feedback_api.notify.worker import Worker, default_senders
from feedback_api.settings import Settings
from tests.feedback_api.conftest import free_port

SENDER = "caunoi@laocai.example"
SECRET = b"test-webhook-secret"
BACKOFF = 60  # seconds, fixed, so tests know when a retry is due


class SmtpCollector:
    """An aiosmtpd handler that keeps every accepted message and can refuse recipients."""

    def __init__(self) -> None:
        self.envelopes: list = []
        self.refuse: set[str] = set()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return f"550 5.1.1 <{address}>: Recipient address rejected"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"

    def received(self, rcpt: str) -> list:
        return [
            message_from_bytes(envelope.content, policy=default_policy)
            for envelope in self.envelopes
            if rcpt in envelope.rcpt_tos
        ]


def start_smtp(collector: SmtpCollector, port: int) -> Controller:
    controller = Controller(collector, hostname="127.0.0.1", port=port)
    controller.start()
    return controller


@pytest.fixture
def smtp():
    collector, port = SmtpCollector(), free_port()
    controller = start_smtp(collector, port)
    yield collector, port
    controller.stop()


@pytest.fixture
def hooks():
    """An HTTP server answering POSTs with the queued statuses (then 200), recording each."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            server.requests.append((self.path, self.headers, body))  # case-insensitive
            status = server.statuses.pop(0) if server.statuses else 200
            self.send_response(status)
            if 300 <= status < 400:
                self.send_header("Location", "/elsewhere")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.requests, server.statuses = [], []
    server.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def tag() -> str:
    return secrets.token_hex(5)


def email_worker(database: Database, port: int, **options) -> Worker:
    sender = EmailSender("127.0.0.1", port, SENDER, timeout=5)
    return Worker(database, {"email": sender}, backoff=lambda attempt: BACKOFF, **options)


def drain(worker: Worker, now: datetime | None = None) -> None:
    for _ in range(50):
        if not worker.run_once(now):
            return


def row(database: Database, message_id: int) -> OutboxMessage:
    with database.session() as session:
        return session.get(OutboxMessage, message_id)


def queue_email(database: Database, *, to: str, key: str, subject: str = "Thư thử") -> int:
    with database.session() as session:
        return enqueue_email(session, to=to, subject=subject, body="Nội dung", dedupe_key=key).id


def sample_liaison_email(tag: str) -> tuple[str, str]:
    return liaison_email(
        tracking_code="PA-7K3M9Q",
        kind="complaint",
        department_name="Sở Xây dựng",
        text="Đường lên thôn Nậm Cang bị sạt lở, xe máy không đi được.",
        location="xã Tả Van",
        due_at=datetime(2025, 6, 30, 20, 0, tzinfo=UTC),  # 1 July in Việt Nam
        inbox_url=f"http://127.0.0.1:8000/inbox/items/PA-7K3M9Q?t={tag}",
        reason="mới",
    )


def test_liaison_email_is_delivered_once_in_utf8(database, smtp, tag):
    collector, port = smtp
    to, key = f"lienlac-{tag}@laocai.example", f"test:{tag}:routed"
    subject, body = sample_liaison_email(tag)
    with database.session() as session:
        message_id = enqueue_email(session, to=to, subject=subject, body=body, dedupe_key=key).id
    worker = email_worker(database, port)
    drain(worker)
    drain(worker, utcnow() + timedelta(hours=3))

    [email] = collector.received(to)
    assert email["Subject"] == subject
    assert subject == "[Cầu Nối] Phản ánh PA-7K3M9Q (mới) - Sở Xây dựng"
    assert email["Message-ID"] == f"<{delivery_id(key)}.caunoi@laocai.example>"
    text = email.get_content()
    assert "Đường lên thôn Nậm Cang bị sạt lở" in text
    assert "Hạn xử lý: 01/07/2025" in text and "Địa điểm: xã Tả Van" in text
    assert f"http://127.0.0.1:8000/inbox/items/PA-7K3M9Q?t={tag}" in text
    sent = row(database, message_id)
    assert (sent.status, sent.attempts, sent.leased_until) == ("sent", 1, None)
    assert sent.sent_at is not None


def test_smtp_down_then_up_delivers_once(database, tag):
    collector, port = SmtpCollector(), free_port()
    to = f"lienlac-{tag}@laocai.example"
    message_id = queue_email(database, to=to, key=f"test:{tag}:down")
    worker = email_worker(database, port)
    t0 = utcnow()
    drain(worker, t0)
    failed = row(database, message_id)
    assert (failed.status, failed.attempts) == ("pending", 1)
    assert failed.last_error.startswith("SMTP connect failed")
    assert failed.next_attempt_at == t0 + timedelta(seconds=BACKOFF)

    controller = start_smtp(collector, port)
    try:
        drain(worker, t0 + timedelta(seconds=BACKOFF / 2))  # not due yet
        assert collector.received(to) == []
        drain(worker, t0 + timedelta(seconds=BACKOFF + 1))
        drain(worker, t0 + timedelta(hours=3))
    finally:
        controller.stop()
    assert len(collector.received(to)) == 1
    sent = row(database, message_id)
    assert (sent.status, sent.attempts) == ("sent", 2)


def test_two_workers_deliver_each_message_exactly_once(database, smtp, tag):
    collector, port = smtp
    to = f"lienlac-{tag}@laocai.example"
    keys = [f"test:{tag}:batch:{i}" for i in range(24)]
    with database.session() as session:
        for key in keys:
            enqueue_email(session, to=to, subject="Thư", body="Nội dung", dedupe_key=key)
    other = Database(database.url)
    workers = [email_worker(database, port, batch=4), email_worker(other, port, batch=4)]
    barrier, errors, tried = threading.Barrier(2), [], Counter()
    # Each worker takes one batch before either goes on, so both always take part
    # (on SQLite one worker could otherwise drain all 24 before the other starts).
    first_batches = threading.Barrier(2)

    def run(worker: Worker) -> None:
        try:
            barrier.wait(timeout=10)
            tried[id(worker)] += worker.run_once()
            first_batches.wait(timeout=30)
            while claimed := worker.run_once():
                tried[id(worker)] += claimed
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(worker,)) for worker in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    other.dispose()
    assert errors == []
    assert len(tried) == 2 and all(tried.values()), "both workers took part"
    ids = Counter(email["Message-ID"] for email in collector.received(to))
    assert ids == Counter({f"<{delivery_id(key)}.caunoi@laocai.example>": 1 for key in keys})
    with database.session() as session:
        rows = messages_for(session, dedupe_prefix=f"test:{tag}:batch:")
        assert {(r.status, r.attempts) for r in rows} == {("sent", 1)}


def test_enqueue_is_idempotent_on_the_dedupe_key(database, tag):
    key = f"test:{tag}:once"
    with database.session() as session:
        before = pending_count(session)
        first = enqueue_email(session, to="a@laocai.example", subject="A", body="x", dedupe_key=key)
        again = enqueue_email(session, to="b@laocai.example", subject="B", body="y", dedupe_key=key)
        assert again is first
        assert pending_count(session) == before + 1
    with database.session() as session:
        later = enqueue_email(session, to="c@laocai.example", subject="C", body="z", dedupe_key=key)
        assert later.id == first.id and later.payload["subject"] == "A"
        assert [m.id for m in messages_for(session, dedupe_prefix=key)] == [first.id]
        assert messages_for(session, dedupe_prefix=f"test:{tag}%") == []  # % is literal


def blocked_on_a_lock(database: Database, timeout: float = 20) -> bool:
    """Wait until another session of this database waits for a lock (on PostgreSQL). SQLite
    has nothing to look at: there the caller waits for the statement that will block, and
    SQLite's busy timeout makes that writer wait for our commit."""
    if not database.is_postgres:
        return True
    waiting = text("SELECT count(*) FROM pg_stat_activity "
                   "WHERE datname = current_database() AND wait_event_type = 'Lock'")
    probe = Database(database.url)
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with probe.session() as session:
                if session.scalar(waiting):
                    return True
            time.sleep(0.02)
        return False
    finally:
        probe.dispose()


def test_concurrent_enqueue_of_one_key_makes_one_row(database, tag):
    key, ids, errors = f"test:{tag}:race", {}, []
    first_added, second_writing = threading.Event(), threading.Event()
    racer = Database(database.url)  # its own engine, so only its statements are watched

    @event.listens_for(racer.engine, "before_cursor_execute")
    def _writing(conn, cursor, statement, *args) -> None:
        if statement.lstrip().upper().startswith(("INSERT", "BEGIN")):
            second_writing.set()

    def first() -> None:
        with database.session() as session:
            ids["first"] = enqueue_email(
                session, to="a@laocai.example", subject="A", body="x", dedupe_key=key
            ).id
            first_added.set()
            # Commit only once the second transaction runs into our uncommitted row.
            if not (second_writing.wait(timeout=20) and blocked_on_a_lock(database)):
                errors.append("the second transaction never waited for the first")

    def second() -> None:
        try:
            first_added.wait(timeout=10)
            with racer.session() as session:
                ids["second"] = enqueue_email(
                    session, to="a@laocai.example", subject="A", body="x", dedupe_key=key
                ).id
                # The caller's transaction is still usable after losing the race.
                enqueue_email(session, to="a@laocai.example", subject="B", body="y",
                              dedupe_key=key + ":after")
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    racer.dispose()
    assert errors == []
    assert ids["first"] == ids["second"]
    with database.session() as session:
        assert [m.dedupe_key for m in messages_for(session, dedupe_prefix=key)] == [
            key, key + ":after"
        ]


def test_webhook_retries_a_500_and_signs_the_body(database, hooks, tag):
    hooks.statuses[:] = [500]
    key, path = f"test:{tag}:hook", f"/hooks/{tag}"
    data = {"tracking_code": "PA-7K3M9Q", "department": "xay-dung", "note": "Sạt lở"}
    with database.session() as session:
        message_id = enqueue_webhook(
            session, url=hooks.url + path, event="feedback.routed", data=data, dedupe_key=key
        ).id
    worker = Worker(database, {"webhook": WebhookSender(SECRET, timeout=5, allow_private=True)},
                    backoff=lambda attempt: BACKOFF)
    t0 = utcnow()
    drain(worker, t0)
    failed = row(database, message_id)
    assert (failed.status, failed.attempts, failed.last_error) == ("pending", 1, "webhook HTTP 500")
    drain(worker, t0 + timedelta(seconds=BACKOFF + 1))
    drain(worker, t0 + timedelta(hours=3))

    mine = [(headers, body) for p, headers, body in hooks.requests if p == path]
    assert len(mine) == 2
    for headers, body in mine:
        stamp = headers["X-CauNoi-Timestamp"]  # signed with the body: no replay later
        assert stamp.isdigit() and abs(int(stamp) - time.time()) < 120
        expected = hmac.new(SECRET, stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
        assert headers["X-CauNoi-Signature"] == f"sha256={expected}"
        assert json.loads(body) == {"event": "feedback.routed", "id": delivery_id(key),
                                    "data": data}
    assert row(database, message_id).status == "sent"


@pytest.mark.parametrize(("status", "outcome"), [(400, "dead"), (429, "pending"), (302, "pending")])
def test_webhook_client_errors_are_not_retried(database, hooks, tag, status, outcome):
    hooks.statuses[:] = [status]
    path = f"/hooks/{tag}"
    with database.session() as session:
        message_id = enqueue_webhook(
            session, url=hooks.url + path, event="e", data={}, dedupe_key=f"test:{tag}:hook"
        ).id
    worker = Worker(database, {"webhook": WebhookSender(SECRET, timeout=5, allow_private=True)},
                    backoff=lambda attempt: 3600 * 24)
    drain(worker)
    drain(worker, utcnow() + timedelta(hours=3))  # a dead message is never tried again
    after = row(database, message_id)
    assert (after.status, after.attempts, after.last_error) == (
        outcome, 1, f"webhook HTTP {status}"
    )
    assert [p for p, _headers, _body in hooks.requests].count(path) == 1


def reply_worker(database: Database) -> Worker:
    sender = CitizenReplySender([WebChannelSender(database)])
    return Worker(database, {"citizen_reply": sender}, backoff=lambda attempt: BACKOFF)


def test_web_reply_lands_once_in_citizen_message(database, tag):
    text = citizen_reply_text(tracking_code="PA-7K3M9Q", department_name="Sở Xây dựng",
                              reply="Sở đã cử đoàn kiểm tra tuyến đường.")
    sender_id = f"web-{tag}"
    with database.session() as session:
        message_id = enqueue_citizen_reply(
            session, channel="web", sender_id=sender_id, text=text,
            tracking_code="PA-7K3M9Q", dedupe_key=f"test:{tag}:reply",
        ).id
    worker = reply_worker(database)
    drain(worker)
    drain(worker, utcnow() + timedelta(hours=3))
    # A redelivery (a worker crashed after delivering) adds nothing.
    with database.session() as session:
        sent = session.get(OutboxMessage, message_id)
        session.expunge(sent)
    WebChannelSender(database).deliver(sent)
    with database.session() as session:
        stmt = select(CitizenMessage).where(CitizenMessage.sender_id == sender_id)
        [reply] = session.scalars(stmt).all()
    assert (reply.outbox_id, reply.channel, reply.tracking_code) == (message_id, "web", "PA-7K3M9Q")
    assert reply.text == text and "Sở đã cử đoàn kiểm tra" in text
    assert row(database, message_id).status == "sent"


def test_reply_on_an_unknown_channel_is_dead_with_a_clear_error(database, tag):
    with database.session() as session:
        message_id = enqueue_citizen_reply(
            session, channel="carrier-pigeon", sender_id=f"x-{tag}", text="Trả lời",
            tracking_code="PA-7K3M9Q", dedupe_key=f"test:{tag}:pigeon",
        ).id
    drain(reply_worker(database))
    dead = row(database, message_id)
    assert (dead.status, dead.attempts) == ("dead", 1)
    assert dead.last_error == "no sender for channel 'carrier-pigeon'"


def lease(database: Database, message_id: int, *, attempts: int, until: datetime) -> None:
    """Make the row look claimed by a worker that then died."""
    with database.session() as session:
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == message_id)
            .values(status="sending", attempts=attempts, leased_until=until)
        )


def test_an_expired_lease_is_claimed_again(database, smtp, tag):
    collector, port = smtp
    to = f"lienlac-{tag}@laocai.example"
    message_id = queue_email(database, to=to, key=f"test:{tag}:lease")
    t0 = utcnow()
    lease(database, message_id, attempts=1, until=t0 + timedelta(seconds=60))
    worker = email_worker(database, port)
    drain(worker, t0 + timedelta(seconds=30))
    assert collector.received(to) == [] and row(database, message_id).status == "sending"
    drain(worker, t0 + timedelta(seconds=61))
    assert len(collector.received(to)) == 1
    assert (row(database, message_id).status, row(database, message_id).attempts) == ("sent", 2)


def test_a_lease_expired_on_the_last_attempt_is_dead(database, smtp, tag):
    _collector, port = smtp
    message_id = queue_email(database, to=f"l-{tag}@laocai.example", key=f"test:{tag}:last")
    t0 = utcnow()
    lease(database, message_id, attempts=3, until=t0)
    drain(email_worker(database, port, max_attempts=3), t0 + timedelta(seconds=1))
    dead = row(database, message_id)
    assert (dead.status, dead.attempts) == ("dead", 3)
    assert "lease expired" in dead.last_error


class BlockingSender(Sender):
    """Holds one message in ``send`` until released: a worker stalled past its lease."""

    kind = "email"

    def __init__(self, message_id: int) -> None:
        self.message_id = message_id
        self.entered, self.release = threading.Event(), threading.Event()

    def send(self, message: OutboxMessage) -> None:
        if message.id == self.message_id:
            self.entered.set()
            self.release.wait(timeout=30)
            return
        raise SendError("not this test's message")


def test_a_stalled_worker_cannot_overwrite_a_reclaimed_message(database, smtp, tag):
    collector, port = smtp
    to = f"lienlac-{tag}@laocai.example"
    message_id = queue_email(database, to=to, key=f"test:{tag}:stalled")
    stalled = BlockingSender(message_id)
    t0 = utcnow()
    slow = Worker(database, {"email": stalled}, backoff=lambda attempt: BACKOFF)
    thread = threading.Thread(target=slow.run_once, args=(t0,))
    thread.start()
    assert stalled.entered.wait(timeout=30)
    drain(email_worker(database, port), t0 + timedelta(seconds=61))  # the lease has expired
    stalled.release.set()
    thread.join(timeout=30)
    assert len(collector.received(to)) == 1
    after = row(database, message_id)
    assert (after.status, after.attempts) == ("sent", 2)


def test_failed_sends_are_recorded_without_personal_data_in_logs(database, smtp, tag, caplog):
    collector, port = smtp
    to = f"nguyen.van.a.{tag}@laocai.example"
    collector.refuse.add(to)
    with database.session() as session:
        message = enqueue_email(session, to=to, subject="Ông Nguyễn Văn A, SĐT 0912345678",
                                body="Số điện thoại 0912345678", dedupe_key=f"test:{tag}:pd")
    caplog.set_level(logging.DEBUG, logger="feedback_api")
    drain(email_worker(database, port))
    dead = row(database, message.id)
    assert (dead.status, dead.attempts) == ("dead", 1)
    assert dead.last_error == "SMTP recipient refused [550]"
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("feedback_api"))
    assert f"outbox {message.id} (email)" in logged
    for secret_text in (to, "nguyen.van.a", "0912345678", "Nguyễn"):
        assert secret_text not in logged


class ExplodingSender(Sender):
    kind = "email"

    def send(self, message: OutboxMessage) -> None:
        raise RuntimeError(f"bug while sending to {message.payload['to']}")


def test_an_unexpected_error_is_recorded_and_retried(database, tag, caplog):
    to = f"tran.thi.b.{tag}@laocai.example"
    message_id = queue_email(database, to=to, key=f"test:{tag}:bug")
    caplog.set_level(logging.DEBUG, logger="feedback_api")
    t0 = utcnow()
    drain(Worker(database, {"email": ExplodingSender()}, backoff=lambda a: BACKOFF), t0)
    failed = row(database, message_id)
    assert (failed.status, failed.attempts) == ("pending", 1)
    assert failed.last_error.startswith("unexpected RuntimeError")
    # The exception's message quotes the payload: the row keeps only its class (defect 11).
    assert failed.last_error == "unexpected RuntimeError"
    assert to not in failed.last_error and "bug while sending" not in failed.last_error
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("feedback_api"))
    assert f"outbox {message_id} (email)" in logged and "RuntimeError" in logged
    assert to not in logged


def test_periodic_tasks_run_in_their_own_sessions(database, tag, caplog):
    calls: list[datetime] = []

    def escalate(session, now):
        calls.append(now)
        enqueue_email(session, to="vp@laocai.example", subject="Quá hạn", body="x",
                      dedupe_key=f"test:{tag}:periodic:{len(calls)}")

    def broken(session, now):
        raise RuntimeError("broken task")

    worker = Worker(database, {}, periodic=[broken, escalate], periodic_every=60)
    t0 = utcnow()
    worker.run_once(t0)
    worker.run_once(t0 + timedelta(seconds=10))  # not yet
    worker.run_once(t0 + timedelta(seconds=61))
    assert calls == [t0, t0 + timedelta(seconds=61)]
    assert "broken" in caplog.text and "RuntimeError" in caplog.text
    with database.session() as session:
        assert len(messages_for(session, dedupe_prefix=f"test:{tag}:periodic:")) == 2


def test_worker_thread_drains_the_outbox(database, tag):
    sender_id = f"web-{tag}"
    with database.session() as session:
        enqueue_citizen_reply(session, channel="api", sender_id=sender_id, text="Đã nhận",
                              tracking_code="KN-4F7H2P", dedupe_key=f"test:{tag}:thread")
    thread, stop = reply_worker(database).start_in_thread(interval=0.05)
    stmt = select(CitizenMessage).where(CitizenMessage.sender_id == sender_id)
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with database.session() as session:
                if session.scalars(stmt).first() is not None:
                    break
            time.sleep(0.05)
    finally:
        stop.set()
        thread.join(timeout=20)
    assert not thread.is_alive()
    with database.session() as session:
        assert len(session.scalars(stmt).all()) == 1


@pytest.mark.parametrize(
    "fields",
    [
        {"to": "a@laocai.example", "subject": "Dòng 1\nBcc: x@evil.example"},
        {"to": "a@laocai.example, b@laocai.example", "subject": "Hai người nhận"},
        {"to": "không phải địa chỉ", "subject": "Sai địa chỉ"},
    ],
)
def test_enqueue_email_refuses_header_injection_and_bad_addresses(database, tag, fields):
    with database.session() as session, pytest.raises(ValueError):
        enqueue_email(session, body="x", dedupe_key=f"test:{tag}:bad", **fields)


def test_enqueue_webhook_refuses_non_http_urls(database, tag):
    with database.session() as session, pytest.raises(ValueError):
        enqueue_webhook(session, url="file:///etc/passwd", event="e", data={},
                        dedupe_key=f"test:{tag}:file")


def test_templates_label_kinds_and_reasons():
    subject, body = liaison_email(
        tracking_code="KN-4F7H2P", kind="proposal", department_name="Sở Giáo dục và Đào tạo",
        text="Đề nghị tăng hỗ trợ tiền ăn cho học sinh bán trú.", location=None, due_at=None,
        inbox_url="http://127.0.0.1:8000/inbox/items/KN-4F7H2P", reason="chuyển từ Sở Nội vụ",
    )
    assert subject == "[Cầu Nối] Kiến nghị/đề xuất KN-4F7H2P (chuyển từ Sở Nội vụ) - " \
        "Sở Giáo dục và Đào tạo"
    assert "Địa điểm: (không nêu)" in body and "Hạn xử lý: (chưa đặt)" in body
    with pytest.raises(ValueError):
        liaison_email(tracking_code="X", kind="rumour", department_name="Sở", text="t",
                      location=None, due_at=None, inbox_url="u", reason="mới")


def test_default_senders_cover_every_kind(database):
    senders = default_senders(Settings(load_search=False), database)
    assert set(senders) == {"email", "webhook", "citizen_reply"}
