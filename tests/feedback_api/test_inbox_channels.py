"""The inbox and the messaging channels: each item's channel, how far the last reply to the
citizen got, "Gửi lại" for a failed one, and the admins' channel health page.

A real API server and real cookies, on SQLite and PostgreSQL. The server runs without its
background worker: the outbox rows stay exactly as the test writes them (a dead reply, a sent
one), so what the pages say and what a retry changes is checked without racing a sender.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from tests.feedback_api.server import Api, service_env
from tests.feedback_api.test_inbox import PASSWORD, Browser, events, logged_in

USERS = (("kenh-admin", "admin", None), ("kenh-vanphong", "triage", None),
         ("kenh-yte", "liaison", "y-te"), ("kenh-giaoduc", "liaison", "giao-duc"))
HOSTILE_ERROR = '<script>alert("loi")</script> Zalo từ chối (-124)'
WINDOW_TEXT = ("Không gửi được: ngoài khung thời gian nền tảng cho phép nhắn tin (người dân cần "
               "nhắn lại trước). Trả lời vẫn xem được trên trang tra cứu.")


@pytest.fixture(scope="module")
def inbox(db_url, database, model_dir, smtp):
    from feedback_api.auth.service import create_token, create_user

    with database.session() as s:
        for username, role, dept in USERS:
            create_user(s, username=username, password=PASSWORD, role=role, department=dept)
        service = create_token(s, name="kenh-service", role="service")
        admin = create_token(s, name="kenh-admin-api", role="admin")
    server = Api(service_env(db_url, model_dir, smtp.port, CAUNOI_RUN_WORKER="0"))
    server.service, server.admin = service, admin
    yield server
    server.stop()


def make_item(api: Api, channel: str, department: str = "y-te") -> str:
    """An item from a citizen on ``channel`` (with a sender id), routed to ``department``."""
    body = {"kind": "complaint", "channel": channel, "sender_id": f"{channel}-{uuid.uuid4().hex}",
            "text": "Đường vào bản Cát Cát sạt lở, xe máy không qua được",
            "idempotency_key": f"kenh-{uuid.uuid4().hex}"}
    status, created = api.request("POST", "/api/v1/feedback", body, token=api.service)
    assert status == 201, created
    code = created["tracking_code"]
    status, item = api.request("PATCH", f"/api/v1/feedback/{code}",
                               {"department": department, "reason": "test"}, token=api.admin)
    assert status == 200, item
    return code


def replied(api: Api, channel: str, username: str = "kenh-yte") -> tuple[str, Browser]:
    """An item of ``channel`` in y-te that ``username`` answered (its reply queued)."""
    code = make_item(api, channel)
    official = logged_in(api, username)
    official.get(f"/inbox/items/{code}")
    page = official.post(f"/inbox/items/{code}/reply", {"text": "Đã cử đội khắc phục."})
    assert page.status == 303 and page.location == f"/inbox/items/{code}"
    return code, official


def reply_row(database, code: str):
    from feedback_api.notify.orm import OutboxMessage

    with database.session() as s:
        return s.scalars(select(OutboxMessage)
                         .where(OutboxMessage.dedupe_key.startswith(f"reply:{code}:"))
                         .order_by(OutboxMessage.id.desc())).first()


def set_reply(database, code: str, **values) -> None:
    """What the worker would have written on the newest reply's row."""
    from feedback_api.notify.orm import OutboxMessage

    with database.session() as s:
        row = s.get(OutboxMessage, reply_row(database, code).id)
        for name, value in values.items():
            setattr(row, name, value)


def delivery_line(page) -> str:
    """The text of the item page's delivery paragraph (HTML as served: escaped)."""
    assert 'id="delivery"' in page.text, "no delivery state on the item page"
    return page.text.split('id="delivery">', 1)[1].split("</p>", 1)[0]


RETRY_FORM = 'action="/inbox/items/{}/reply/retry"'


def test_failed_reply_is_shown_escaped_and_retried_only_by_its_department(inbox, database):
    code, liaison = replied(inbox, "zalo")
    url = f"/inbox/items/{code}"
    page = liaison.get(url)
    assert "<dt>Kênh</dt><dd>Zalo</dd>" in page.text
    assert "Đang gửi" in delivery_line(page) and RETRY_FORM.format(code) not in page.text
    listing = liaison.get(f"/inbox?q={code}").text
    assert '<td class="channel">Zalo</td>' in listing.split(url)[1].split("</tr>")[0]

    set_reply(database, code, status="dead", attempts=8, last_error=HOSTILE_ERROR)
    page = liaison.get(url)
    line = delivery_line(page)
    assert "Gửi thất bại: &lt;script&gt;alert(&#34;loi&#34;)&lt;/script&gt; Zalo từ chối" in line
    assert "<script>alert" not in page.text
    assert RETRY_FORM.format(code) in page.text

    # Another department's liaison can neither see nor retry it; nothing changes.
    other = logged_in(inbox, "kenh-giaoduc")
    assert other.get(url).status == 404
    before = len(events(database, code))
    assert other.post(f"{url}/reply/retry", {}).status == 404
    # Without the session's CSRF token, refused too.
    assert liaison.post(f"{url}/reply/retry", {}, csrf=None).status == 403
    row = reply_row(database, code)
    assert (row.status, row.attempts, row.last_error) == ("dead", 8, HOSTILE_ERROR)
    assert len(events(database, code)) == before

    liaison.get(url)
    started = datetime.now(UTC)
    page = liaison.post(f"{url}/reply/retry", {})
    assert page.status == 303 and page.location == url
    row = reply_row(database, code)
    assert (row.status, row.attempts, row.leased_until) == ("pending", 0, None)
    assert row.last_error == HOSTILE_ERROR  # until the next attempt overwrites it
    assert started - timedelta(seconds=5) <= row.next_attempt_at <= datetime.now(UTC)
    last = events(database, code)[-1]
    assert (last.action, last.actor, last.reason) == (
        "retry_delivery", "user:kenh-yte", "Gửi lại trả lời cho người dân")
    page = liaison.get(url)
    assert "Đã đưa trả lời vào hàng gửi lại" in page.text
    assert "Đang gửi lại sau lỗi: &lt;script&gt;alert(" in delivery_line(page)
    assert "<script>alert" not in page.text


def test_only_the_newest_reply_counts_and_retry_needs_a_failed_one(inbox, database):
    from feedback_api.notify.orm import OutboxMessage

    code, liaison = replied(inbox, "messenger")
    url = f"/inbox/items/{code}"
    set_reply(database, code, status="dead", attempts=8, last_error="Messenger lỗi 551")
    first = reply_row(database, code)
    page = liaison.post(f"{url}/reply", {"text": "Bổ sung: đường đã thông."})
    assert page.status == 303
    sent_at = datetime(2025, 3, 14, 2, 5, tzinfo=UTC)
    for values, shown in [({}, "Đang gửi"),
                          ({"status": "sent", "sent_at": sent_at, "attempts": 1},
                           "Đã gửi đến người dân lúc 14/03/2025 09:05")]:
        set_reply(database, code, **values)
        page = liaison.get(url)
        assert shown in delivery_line(page) and RETRY_FORM.format(code) not in page.text
        assert "Messenger lỗi 551" not in delivery_line(page)  # the older reply's
        before = reply_row(database, code)
        page = liaison.post(f"{url}/reply/retry", {})
        assert page.status == 409 and "Không có trả lời nào gửi thất bại" in page.text
        after = reply_row(database, code)
        assert (after.status, after.attempts, after.next_attempt_at) == (
            before.status, before.attempts, before.next_attempt_at)
        assert events(database, code)[-1].action != "retry_delivery"
    with database.session() as s:
        assert s.get(OutboxMessage, first.id).status == "dead"
    unanswered = make_item(inbox, "zalo")
    liaison.get(f"/inbox/items/{unanswered}")
    page = liaison.post(f"/inbox/items/{unanswered}/reply/retry", {})
    assert page.status == 409 and 'id="delivery"' not in liaison.get(
        f"/inbox/items/{unanswered}").text


def test_reply_outside_the_platform_window_says_why(inbox, database):
    from feedback_api.channels.senders import window_reason

    code, liaison = replied(inbox, "zalo")
    set_reply(database, code, status="dead", attempts=1, last_error=window_reason("zalo", "reply"))
    page = liaison.get(f"/inbox/items/{code}")
    assert WINDOW_TEXT in delivery_line(page) and "Gửi thất bại" not in delivery_line(page)
    assert RETRY_FORM.format(code) in page.text  # the citizen may have written again since
    assert liaison.post(f"/inbox/items/{code}/reply/retry", {}).status == 303
    assert reply_row(database, code).status == "pending"


def test_web_reply_is_shown_as_delivered_to_the_chat(inbox, database):
    code, triage = replied(inbox, "web", username="kenh-vanphong")
    set_reply(database, code, status="sent", sent_at=datetime(2025, 3, 14, 2, 5, tzinfo=UTC))
    page = triage.get(f"/inbox/items/{code}")
    assert "<dt>Kênh</dt><dd>Web</dd>" in page.text
    assert ("Đã chuyển vào khung chat của người dân lúc 14/03/2025 09:05"
            in delivery_line(page))


def dead_letters(database, platform: str) -> int:
    """Counted here from the rows, not by the code under test."""
    from feedback_api.notify.orm import OutboxMessage

    with database.session() as s:
        rows = s.scalars(select(OutboxMessage).where(
            OutboxMessage.status == "dead",
            OutboxMessage.kind.in_(("citizen_reply", "channel_message"))))
        return sum(1 for row in rows if (row.payload or {}).get("channel") == platform)


def cell(page, platform: str, css: str) -> str:
    row = page.text.split(f'id="channel-{platform}"', 1)[1].split("</tr>", 1)[0]
    return row.split(f'class="{css}">', 1)[1].split("</td>", 1)[0]


def test_channel_health_page_is_for_admins(inbox, database):
    from feedback_api.channels.orm import ChannelState

    code, _ = replied(inbox, "zalo")
    set_reply(database, code, status="dead", attempts=8, last_error="Zalo lỗi -32")
    fields = {"alert": '<script>alert("token")</script> Zalo từ chối làm mới token',
              "last_event_at": datetime(2025, 3, 14, 2, 5, tzinfo=UTC),
              "last_send_at": datetime(2025, 3, 14, 3, 0, tzinfo=UTC),
              "token_expires_at": datetime(2025, 3, 13, 20, 30, tzinfo=UTC)}
    with database.session() as s:
        state = s.get(ChannelState, "zalo")
        created = state is None
        saved = {} if created else {k: getattr(state, k) for k in fields}
        if created:
            state = ChannelState(platform="zalo")
            s.add(state)
        for name, value in fields.items():
            setattr(state, name, value)
    try:
        admin = logged_in(inbox, "kenh-admin")
        page = admin.get("/inbox/admin/channels")
        assert page.status == 200 and 'href="/inbox/admin/channels"' in page.text
        assert "<h1>Kênh nhắn tin</h1>" in page.text
        zalo = page.text.split('id="channel-zalo"', 1)[1].split("</tr>", 1)[0]
        assert "Tắt" in zalo  # no Zalo settings on this server
        for shown in ("14/03/2025 09:05", "14/03/2025 10:00", "14/03/2025 03:30",
                      "đã hết hạn"):
            assert shown in zalo, shown
        assert int(cell(page, "zalo", "dead-letters")) == dead_letters(database, "zalo") >= 1
        assert int(cell(page, "messenger", "dead-letters")) == dead_letters(database,
                                                                              "messenger")
        box = page.text.split('class="alert" role="alert" id="alert-zalo">', 1)[1]
        assert "&lt;script&gt;alert(&#34;token&#34;)&lt;/script&gt; Zalo từ chối" in box
        assert "<script>alert" not in page.text and 'id="alert-messenger"' not in page.text
        for username in ("kenh-yte", "kenh-vanphong"):
            browser = logged_in(inbox, username)
            assert 'href="/inbox/admin/channels"' not in browser.get("/inbox").text
            page = browser.get("/inbox/admin/channels")
            assert page.status == 403 and "Zalo từ chối" not in page.text
    finally:
        with database.session() as s:
            state = s.get(ChannelState, "zalo")
            if created:
                s.delete(state)
            else:
                for name, value in saved.items():
                    setattr(state, name, value)
