"""A citizen in Chromium on /chat, served by the real API and answered by the real Rasa and
action server: asks a question (citations shown, the read-more page opens), then files a
complaint by typing and tapping buttons, and gets a tracking code the API knows."""

from __future__ import annotations

from tests.chat.browser import ChatPage, Reply, chromium
from tests.e2e.conftest import file_feedback


def as_messages(reply: Reply) -> list[dict]:
    return [{"text": m.text, "buttons": m.buttons} for m in reply.messages]


def test_ask_then_complain_in_the_browser(stack):
    with chromium() as browser:
        chat = ChatPage.open(browser, stack.api_url)
        try:
            reply = chat.send("thu tuc dang ky thuong tru can giay to gi")
            assert reply.notice == "", reply.notice
            assert reply.citations, reply
            assert any(c.law_id == "Luật Cư trú 2020" for c in reply.citations), reply.citations
            assert all(m.elements == 0 for m in reply.messages)  # text only, no injected markup
            assert reply.buttons, reply  # vote on the answer, or forward the question

            last: dict = {"reply": reply}

            def say(text: str) -> list[dict]:
                # a payload the page offers as a button is tapped, anything else is typed
                titles = {p: t for t, p in last["reply"].buttons.items()}
                last["reply"] = (chat.click_button(titles[text]) if text in titles
                                 else chat.send(text))
                assert last["reply"].notice == "", last["reply"].notice
                return as_messages(last["reply"])

            code, turns = file_feedback(
                say, "tôi muốn phản ánh: đèn đường ở tổ 5 phường Cốc Lếu tắt cả tháng nay, tối"
                     " đi lại rất nguy hiểm", location="tổ 5, phường Cốc Lếu")
            assert code, turns
            assert code in chat.page.locator("#log").inner_text()
            assert stack.get(f"/api/v1/status/{code}")[0] == 200

            href = reply.citations[0].href
            chat.page.goto(stack.api_url + href if href.startswith("/") else href)
            assert "Luật Cư trú 2020" in chat.page.locator("body").inner_text()
        finally:
            chat.close()
