"""Officials' replies in the web chat (GET /chat/api/replies and the page that polls it).

The real flow on a real API with its worker: an item is filed under the web chat's channel and
a browser's sender id (as the action server files it, with the service token), an official
replies through the API, the outbox worker writes ``citizen_message``, and the chat shows it —
to that browser only. Rasa is the stand-in (tests/chat/fake_rasa.py); it is only used to learn
the sender id the API chose for a browser.
"""

from __future__ import annotations

import json
import sqlite3
import time
import uuid

import pytest

from tests.chat.browser import CHROMIUM, ChatPage, chromium
from tests.chat.test_chat_api import Citizen
from tests.feedback_api.conftest import free_port
from tests.feedback_api.server import api_with_tokens, service_env

REPLIES_LIMIT = 40  # per minute and sender; the page below asks every 2 s (30 a minute)
CHAT_SENDER_LIMIT = 10  # per minute: polling must not spend it
HOSTILE = '<img src=x onerror="window.__xss = 7"><b>Đã sửa</b> <script>window.__xss = 8</script>'


@pytest.fixture(scope="module")
def api(tmp_path_factory, model_dir, fake_rasa):
    db = tmp_path_factory.mktemp("replies") / "caunoi.db"
    env = service_env(f"sqlite:///{db}", model_dir, free_port(), CAUNOI_RUN_WORKER="1",
                      CAUNOI_RASA_URL=fake_rasa.url,
                      CAUNOI_RATE_LIMIT_REPLIES=f"{REPLIES_LIMIT}/minute",
                      CAUNOI_RATE_LIMIT_CHAT_SENDER=f"{CHAT_SENDER_LIMIT}/minute",
                      CAUNOI_CHAT_REPLY_POLL_SECONDS="2")
    server = api_with_tokens(env, "replies", "service", "admin")
    server.db = db
    yield server
    server.stop()


def web_citizen(api, fake_rasa) -> Citizen:
    """A browser that loaded /chat and said hello; ``.sender`` is the id the API gave it."""
    citizen = Citizen(api.base)
    assert citizen.call("GET", "/chat")[0] == 200
    assert citizen.say("xin chào")[0] == 200
    citizen.sender = fake_rasa.last()["sender"]
    assert citizen.sender.startswith("web-")
    return citizen


def file_item(api, sender: str, *, channel: str = "web") -> str:
    """An item filed as the action server files it, routed by an official at once."""
    status, item = api.request("POST", "/api/v1/feedback", {
        "kind": "complaint", "channel": channel, "sender_id": sender,
        "text": "Đèn đường ở tổ 5 phường Cốc Lếu hỏng cả tháng nay, buổi tối rất tối.",
        "idempotency_key": f"test-{uuid.uuid4().hex}"}, token=api.tokens["service"])
    assert status == 201, item
    code = item["tracking_code"]
    status, body = api.request("PATCH", f"/api/v1/feedback/{code}", {"department": "xay-dung"},
                               token=api.tokens["admin"])
    assert status == 200, body
    return code


def reply(api, code: str, text: str) -> None:
    status, body = api.request("POST", f"/api/v1/feedback/{code}/reply", {"text": text},
                               token=api.tokens["admin"])
    assert status == 200, body


def delivered(api, count: int, timeout: float = 120.0) -> None:
    """Wait until the worker has written ``count`` replies to ``citizen_message``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with sqlite3.connect(api.db) as db:
            if db.execute("SELECT count(*) FROM citizen_message").fetchone()[0] >= count:
                return
        time.sleep(0.2)
    raise AssertionError(f"{count} replies not delivered in {timeout} s:\n{api.output()[-3000:]}")


def delivered_so_far(api) -> int:
    with sqlite3.connect(api.db) as db:
        return db.execute("SELECT count(*) FROM citizen_message").fetchone()[0]


def replies(citizen: Citizen, after: int | str | None = None, **kwargs):
    path = "/chat/api/replies" + ("" if after is None else f"?after={after}")
    status, headers, raw = citizen.call("GET", path, **kwargs)
    return status, headers, json.loads(raw)


def test_each_browser_sees_only_its_own_replies_oldest_first(api, fake_rasa):
    a, b = web_citizen(api, fake_rasa), web_citizen(api, fake_rasa)
    before = delivered_so_far(api)
    code_a, code_b = file_item(api, a.sender), file_item(api, b.sender)
    reply(api, code_a, "Sở Xây dựng đã cử người kiểm tra đèn đường.")
    reply(api, code_b, "Đã tiếp nhận, sẽ sửa trong tuần.")
    reply(api, code_a, "Đèn đường tổ 5 đã được thay mới.")
    # The same id on another channel is another citizen (an API client, not this browser).
    reply(api, file_item(api, a.sender, channel="api"), "Trả lời qua kênh API.")
    delivered(api, before + 4)

    status, headers, seen = replies(a)
    assert status == 200 and headers["Cache-Control"] == "no-store"
    assert headers.get("Set-Cookie") is None
    assert [(r["tracking_code"], r["text"].split("\n\n")[1]) for r in seen] == [
        (code_a, "Sở Xây dựng đã cử người kiểm tra đèn đường."),
        (code_a, "Đèn đường tổ 5 đã được thay mới."),
    ]
    assert seen[0]["id"] < seen[1]["id"] and set(seen[0]) == {"id", "tracking_code", "text",
                                                                "created_at"}
    assert seen[0]["text"].startswith(f"Sở Xây dựng trả lời ý kiến mã {code_a}:")
    assert seen[0]["created_at"].endswith("+00:00")

    _, _, only_b = replies(b)
    assert [(r["tracking_code"], r["text"].split("\n\n")[1]) for r in only_b] == [
        (code_b, "Đã tiếp nhận, sẽ sửa trong tuần.")]

    # ``after``: only what the page has not shown yet.
    assert [r["id"] for r in replies(a, after=seen[0]["id"])[2]] == [seen[1]["id"]]
    assert replies(a, after=seen[1]["id"])[2] == []
    assert replies(b, after=only_b[0]["id"])[2] == []
    # b asking with a's ids below its own still gets only its own.
    assert [r["id"] for r in replies(b, after=0)[2]] == [only_b[0]["id"]]


def test_without_a_valid_sender_cookie_nothing_is_shown(api, fake_rasa):
    a = web_citizen(api, fake_rasa)
    code = file_item(api, a.sender)
    before = delivered_so_far(api)
    reply(api, code, "Đã xử lý xong.")
    delivered(api, before + 1)
    [cookie] = [c.value for c in a.jar if c.name == "caunoi_chat"]
    assert len(replies(a)[2]) == 1

    stranger = Citizen(api.base)  # no cookie at all: nothing, and no cookie handed out
    status, headers, body = replies(stranger)
    assert (status, body) == (200, []) and headers["Cache-Control"] == "no-store"
    assert headers.get("Set-Cookie") is None
    forged = cookie[:-2] + ("AA" if not cookie.endswith("AA") else "BB")  # signature broken
    for value in (forged, a.sender, "web-" + "x" * 30, cookie + "x"):
        status, _, body = replies(stranger, headers={"Cookie": f"caunoi_chat={value}"})
        assert (status, body) == (200, []), value


@pytest.mark.parametrize("after", ["-1", "abc", "1.5", str(2**31), "99999999999999999999999"])
def test_a_bad_after_is_a_clear_422(api, fake_rasa, after):
    a = web_citizen(api, fake_rasa)
    status, _, body = replies(a, after=after)
    assert status == 422 and body["detail"].startswith("Dữ liệu không hợp lệ ở: after")


def test_polling_has_its_own_limit_per_sender(api, fake_rasa):
    a, b = web_citizen(api, fake_rasa), web_citizen(api, fake_rasa)
    for _ in range(REPLIES_LIMIT):  # web_citizen asked for no replies
        assert replies(a)[0] == 200
    status, headers, body = replies(a)
    assert status == 429 and int(headers["Retry-After"]) >= 1
    assert body["detail"].startswith("Bạn gửi quá nhiều yêu cầu.")
    assert replies(b)[0] == 200  # another browser behind the same address is not held up
    # Four times the chat's per-sender budget spent on polling, and a can still write.
    assert a.say("vẫn nhắn được")[0] == 200
    # Without a cookie the requests count per address, under the same rule (other tests here
    # may have spent some of that budget already).
    stranger = Citizen(api.base)
    codes = [replies(stranger)[0] for _ in range(REPLIES_LIMIT + 1)]
    assert codes[0] == 200 and codes[-1] == 429


# --- the page ---------------------------------------------------------------------------------

REPLY_ROWS = "#log .msg.reply"


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.skip("needs Debian's Chromium at /usr/bin/chromium")
    with chromium() as browser:
        yield browser


def page_sender(fake_rasa, chat: ChatPage) -> str:
    """The sender id the API gave this browser (what it relays to Rasa)."""
    chat.send("xin chào")
    return fake_rasa.last()["sender"]


def checked(chat: ChatPage, at_least: int) -> None:
    """Wait until the page has finished ``at_least`` asks for replies since it loaded."""
    chat.page.wait_for_function(
        "n => Number(document.body.dataset.repliesChecked || 0) >= n", arg=at_least,
        timeout=chat.timeout_ms)


def test_a_reply_appears_in_the_open_page_once_and_as_text(api, fake_rasa, browser):
    chat = ChatPage.open(browser, api.base, timeout_ms=120_000)
    try:
        sender = page_sender(fake_rasa, chat)
        checked(chat, 1)
        assert chat.page.locator(REPLY_ROWS).count() == 0
        chat.page.evaluate("window.__same_page = 1")

        code = file_item(api, sender)
        reply(api, code, f"Chúng tôi đã sửa: {HOSTILE} Xem https://dichvucong.gov.vn/p/home.")
        chat.page.wait_for_selector(REPLY_ROWS, timeout=chat.timeout_ms)
        assert chat.page.evaluate("window.__same_page") == 1  # shown without reloading

        label = chat.page.inner_text(f"{REPLY_ROWS} .reply-label")
        assert label.startswith(f"Trả lời của cơ quan về ý kiến {code}")
        [shown] = [m for m in chat.bot_messages() if code in m.text]
        assert f"Chúng tôi đã sửa: {HOSTILE} Xem https://dichvucong.gov.vn/p/home." in shown.text
        assert shown.elements == 0  # no element but the link came out of the text
        assert shown.links == ["https://dichvucong.gov.vn/p/home"]
        assert chat.page.locator("#log .msg.reply img, #log .msg.reply script").count() == 0
        assert chat.page.evaluate("window.__xss") is None and chat.dialogs == []

        # A reload shows it once (from the conversation kept in the tab), not again.
        polls = int(chat.page.evaluate("document.body.dataset.repliesChecked"))
        checked(chat, polls + 1)
        assert chat.page.locator(REPLY_ROWS).count() == 1
        chat.goto_chat()
        checked(chat, 2)
        assert chat.page.locator(REPLY_ROWS).count() == 1
        assert code in chat.page.inner_text(REPLY_ROWS)

        # A reply that arrives while the page is closed is there when the citizen comes back.
        chat.page.goto("about:blank")
        before = delivered_so_far(api)
        reply(api, code, "Nếu đèn lại hỏng, bạn báo cho chúng tôi nhé.")
        delivered(api, before + 1)
        chat.goto_chat()
        checked(chat, 1)  # the ask on load
        rows = chat.page.locator(REPLY_ROWS).all_inner_texts()
        assert len(rows) == 2 and "Nếu đèn lại hỏng" in rows[1]
    finally:
        chat.close()
