"""The chat relay (/chat, POST /chat/api/messages) through the real API on loopback.

Rasa is a stand-in here (tests/chat/fake_rasa.py): these tests check what the API does with
what it is given — sender ids, validation, and every way Rasa can fail. The real assistant is
tested end to end in tests/e2e/.
"""

from __future__ import annotations

import http.cookiejar
import json
import time
import urllib.error
import urllib.request

import pytest

from tests.chat.conftest import RASA_TIMEOUT
from tests.chat.fake_rasa import CITATIONS


class Citizen:
    """One browser: its own cookie jar, talking to the API like the page's script does."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))

    def call(self, method: str, path: str, *, body=None, raw: bytes | None = None,
             content_type: str = "application/json", headers: dict | None = None):
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        request = urllib.request.Request(self.base + path, data=data, method=method,
                                         headers={"Content-Type": content_type, **(headers or {})})
        try:
            with self.opener.open(request, timeout=60) as response:
                return response.status, response.headers, response.read()
        except urllib.error.HTTPError as err:
            return err.code, err.headers, err.read()

    def say(self, message: str, payload: str | None = None, **kwargs) -> tuple[int, object]:
        body = {"message": message} if payload is None else {"message": message,
                                                             "payload": payload}
        status, _, raw = self.call("POST", "/chat/api/messages", body=body, **kwargs)
        return status, json.loads(raw)


@pytest.fixture
def citizen(chat_api):
    return Citizen(chat_api.base)


def test_the_page_sets_a_signed_sender_cookie_and_uses_only_local_assets(citizen):
    status, headers, raw = citizen.call("GET", "/chat")
    html = raw.decode()
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert "Xin chào" in html and 'lang="vi"' in html
    assert '<script src="/chat/static/chat.js"' in html
    assert 'href="/chat/static/chat.css"' in html
    assert "src=\"http" not in html and "href=\"http" not in html  # no CDN, nothing remote
    cookie = headers["Set-Cookie"]
    assert cookie.startswith("caunoi_chat=") and "HttpOnly" in cookie and "Path=/chat" in cookie
    for asset in ("/chat/static/chat.js", "/chat/static/chat.css"):
        assert citizen.call("GET", asset)[0] == 200


def test_messages_reach_rasa_under_one_sender_per_browser(chat_api, fake_rasa, citizen):
    citizen.call("GET", "/chat")
    status, reply = citizen.say("xin chào")
    assert status == 200
    assert reply == [{"text": "Bạn vừa nói: xin chào"}]  # recipient_id is not passed on
    first = fake_rasa.last()
    assert first["sender"].startswith("web-") and len(first["sender"]) > 20
    assert first["metadata"] == {"channel": "web"} and first["input_channel"] == "web"
    citizen.say("cảm ơn")
    assert fake_rasa.last()["sender"] == first["sender"]

    other = Citizen(chat_api.base)
    other.say("xin chào")  # no page load first: the first message gets a sender too
    assert fake_rasa.last()["sender"] not in (first["sender"], "")
    other_sender = fake_rasa.last()["sender"]
    other.say("lần hai")
    assert fake_rasa.last()["sender"] == other_sender


def test_a_forged_sender_cookie_is_replaced(chat_api, fake_rasa):
    status, _ = Citizen(chat_api.base).say("xin chào", headers={"Cookie": "caunoi_chat=web-abc"})
    assert status == 200
    assert fake_rasa.last()["sender"] not in ("web-abc", "abc")


def test_a_button_sends_its_payload(citizen, fake_rasa):
    status, reply = citizen.say("hỏi")
    assert status == 200
    assert reply[1] == {"custom": {"type": "answer", "citations": CITATIONS, "confident": True}}
    assert reply[2]["buttons"] == [{"title": "Có", "payload": "/affirm"},
                                   {"title": "Không", "payload": "/deny"}]
    status, reply = citizen.say("Có", payload="/affirm")
    assert status == 200 and reply == [{"text": "Cảm ơn bạn đã đánh giá!"}]
    assert fake_rasa.last()["message"] == "/affirm"


def test_text_is_trimmed_and_normalised(citizen, fake_rasa):
    decomposed = "Đăng ky\u0301 thường tru\u0301"  # combining accents (NFD), as some phones send
    assert citizen.say(f"   {decomposed}  \n")[0] == 200
    assert fake_rasa.last()["message"] == "Đăng ký thường trú"


@pytest.mark.parametrize(
    ("body", "content_type", "status", "words"),
    [
        ({"message": "   "}, "application/json", 422, "trống"),
        ({"message": ""}, "application/json", 422, "trống"),
        ({"message": "a" * 2001}, "application/json", 422, "2000"),
        ({"message": "Có", "payload": " "}, "application/json", 422, "trống"),
        ({"message": "Có", "payload": "/" + "a" * 2000}, "application/json", 422, "2000"),
        ({}, "application/json", 422, "không hợp lệ"),
        ({"message": 5}, "application/json", 422, "không hợp lệ"),
        (["xin chào"], "application/json", 422, "không hợp lệ"),
        (b"not json", "application/json", 422, "không hợp lệ"),
        (b"message=xin+chao", "application/x-www-form-urlencoded", 415, "JSON"),
        ({"message": "a\x00b"}, "application/json", 422, "NUL"),
    ],
)
def test_bad_input_is_a_vietnamese_4xx(citizen, fake_rasa, body, content_type, status, words):
    before = len(fake_rasa.received)
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    got, _, payload = citizen.call("POST", "/chat/api/messages", raw=raw,
                                   content_type=content_type)
    assert got == status, payload
    assert words in json.loads(payload)["detail"]
    assert len(fake_rasa.received) == before  # nothing reached Rasa


def test_the_longest_message_is_accepted(citizen, fake_rasa):
    assert citizen.say("a" * 2000)[0] == 200
    assert len(fake_rasa.last()["message"]) == 2000


def test_a_silent_bot_is_an_empty_list(citizen):
    assert citizen.say("im lặng") == (200, [])


@pytest.mark.parametrize(
    ("message", "status"),
    [("rác", 502), ("không phải danh sách", 502), ("lỗi 500", 503)],
)
def test_rasa_answering_nonsense_is_a_clear_5xx(citizen, message, status):
    got, reply = citizen.say(message)
    assert got == status
    assert "Trợ lý" in reply["detail"] and "thử lại" in reply["detail"]


def test_a_slow_rasa_is_a_503_after_the_timeout(citizen):
    started = time.monotonic()
    status, reply = citizen.say(f"chậm {float(RASA_TIMEOUT) + 3}")
    elapsed = time.monotonic() - started
    assert status == 503 and "quá lâu" in reply["detail"]
    assert float(RASA_TIMEOUT) - 0.5 < elapsed < float(RASA_TIMEOUT) + 2.5


def test_rasa_down_is_a_503_and_the_chat_recovers(citizen, fake_rasa):
    fake_rasa.stop()
    try:
        status, reply = citizen.say("xin chào")
        assert status == 503
        assert reply == {"detail": "Trợ lý đang tạm ngừng hoạt động. "
                                   "Bạn vui lòng thử lại sau ít phút."}
    finally:
        fake_rasa.start()
    assert citizen.say("xin chào")[0] == 200


def test_without_search_the_article_pages_say_so(citizen):
    law = "Lu%E1%BA%ADt%20C%C6%B0%20tr%C3%BA%202020"
    status, headers, raw = citizen.call("GET", f"/api/v1/articles/{law}/20")
    assert status == 503 and "tạm ngừng" in json.loads(raw)["detail"]
    status, headers, raw = citizen.call("GET", f"/van-ban/{law}/20")
    assert status == 503 and headers["Content-Type"].startswith("text/html")
    assert "tạm ngừng" in raw.decode() and 'href="/chat"' in raw.decode()
