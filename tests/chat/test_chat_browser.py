"""The chat page in a real browser (Debian's Chromium via Playwright), against the stand-in
Rasa and the real API with the small index: rendering, buttons, citation chips that open the
read-more page, escaping, the typing indicator and error notices."""

from __future__ import annotations

import time
from urllib.parse import quote

import pytest

from tests.chat.browser import CHROMIUM, ChatPage, chromium

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(),
                                reason="needs Debian's Chromium at /usr/bin/chromium")


@pytest.fixture(scope="module")
def browser():
    with chromium() as browser:
        yield browser


@pytest.fixture
def chat(browser, reader_api):
    page = ChatPage.open(browser, reader_api.base, timeout_ms=30_000)
    yield page
    page.close()


def test_greeting_and_suggestions(chat, fake_rasa):
    assert "Xin chào" in chat.page.inner_text("#greeting")
    assert chat.page.locator("#suggestions .suggestion").count() >= 3
    reply = chat.click_suggestion("Bạn làm được gì?")
    assert chat.user_messages() == ["Bạn làm được gì?"]
    assert reply.text == "Bạn vừa nói: Bạn làm được gì?"
    assert fake_rasa.last()["message"] == "Bạn làm được gì?"
    assert chat.page.locator("#suggestions").is_hidden()


def test_bot_text_is_shown_as_text_with_links_clickable(chat):
    reply = chat.send("xss")
    [message] = reply.messages
    assert message.text.startswith('<script>window.__xss = 1</script><img src=x onerror=')
    assert message.elements == 0  # no element but the links was created from the text
    assert message.links == ["https://dichvucong.gov.vn/p/home",  # the full stop stays text
                             "/van-ban/Lu%E1%BA%ADt%20C%C6%B0%20tr%C3%BA%202020/20"]
    assert chat.page.evaluate("window.__xss") is None and chat.dialogs == []
    external = chat.page.locator("#log .bubble a").first
    assert external.get_attribute("rel") == "noopener noreferrer"
    assert external.get_attribute("target") == "_blank"


def test_the_user_text_is_never_markup(chat):
    chat.send('<img src=x onerror="window.__xss = 3">')
    assert chat.user_messages() == ['<img src=x onerror="window.__xss = 3">']
    assert chat.page.locator("#log .msg.user img").count() == 0
    assert chat.page.evaluate("window.__xss") is None


def test_an_answer_with_citations_buttons_and_read_more(chat, fake_rasa):
    reply = chat.send("hỏi")
    assert reply.text.startswith("Theo Điều 20 Luật Cư trú 2020")
    assert [(c.title, c.href, c.unsure) for c in reply.citations] == [
        ("Điều 20 Luật Cư trú 2020", f"/van-ban/{quote('Luật Cư trú 2020', safe='')}/20", False),
        ("Điều 21 Luật Cư trú 2020", f"/van-ban/{quote('Luật Cư trú 2020', safe='')}/21", False),
    ]
    assert reply.buttons == {"Có": "/affirm", "Không": "/deny"}

    after = chat.click_button("Có")
    assert fake_rasa.last()["message"] == "/affirm"
    assert chat.user_messages()[-1] == "Có"  # the title is shown, the payload is sent
    assert after.text == "Cảm ơn bạn đã đánh giá!"
    buttons = chat.page.locator("#log .buttons button").all()
    states = {b.inner_text(): b.is_enabled() for b in buttons}
    assert states == {"Có": False, "Không": False}

    chat.page.locator("a.citation", has_text="Điều 20 Luật Cư trú 2020").click()
    chat.page.wait_for_selector("#article-heading")
    assert chat.page.inner_text("#article-heading").startswith("Điều 20. Điều kiện đăng ký")
    assert "chỗ ở hợp pháp" in chat.page.inner_text("#article-text")
    chat.page.click("text=Quay lại trò chuyện")
    chat.page.wait_for_selector("body[data-ready='1']")
    # The conversation is still there after coming back.
    assert chat.user_messages() == ["hỏi", "Có"]
    assert len(chat.bot_messages()) == 4  # answer, chips, question with buttons, thanks


def test_unsure_answers_are_labelled(chat):
    reply = chat.send("chưa chắc")
    assert [c.unsure for c in reply.citations] == [True]
    assert "Có thể liên quan" in chat.page.inner_text("#log .msg.bot:last-child")


def test_typing_indicator_while_waiting(chat):
    chat.page.fill("#input", "chậm 1.5")
    started = time.monotonic()
    chat.page.press("#input", "Enter")
    assert chat.page.locator("#typing").is_visible()
    assert chat.page.locator("#send").is_disabled()
    chat.page.wait_for_selector("#typing", state="detached")
    assert time.monotonic() - started > 1.2
    assert chat.bot_messages()[-1].text == "Xin lỗi vì đã để bạn chờ."
    assert chat.page.locator("#send").is_enabled()


def test_errors_are_shown_and_the_text_can_be_sent_again(chat):
    reply = chat.send("rác")
    assert reply.messages == []
    assert reply.notice == "Trợ lý trả lời không hợp lệ. Bạn vui lòng thử lại sau ít phút."
    assert chat.page.input_value("#input") == "rác"
    reply = chat.send("im lặng")  # the notice goes away with the next message
    assert reply.notice == ""
    assert reply.text.startswith("Xin lỗi, tôi chưa có câu trả lời")
