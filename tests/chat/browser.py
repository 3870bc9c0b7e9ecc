"""Driving the web chat page (/chat) in Debian's Chromium through Playwright.

Reusable: the chat page's own tests use it against a stand-in Rasa, the end-to-end test
against the real stack. ``ChatPage.send`` types a message and returns the assistant's reply
as it is shown (text, buttons, citation chips), once the typing indicator has gone.

    with chromium() as browser:
        chat = ChatPage.open(browser, "http://127.0.0.1:8000")
        reply = chat.send("Thủ tục đăng ký thường trú thế nào?")
        reply.citations[0].href   # "/van-ban/Lu%E1%BA%ADt%20C%C6%B0%20tr%C3%BA%202020/20"
        chat.click_button("Có")
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
BOT_MESSAGES = "#log .msg.bot:not(.typing):not(.greeting)"

# One script reads what the page shows for the bot messages from index ``from`` on.
_READ = """([selector, from]) => Array.from(document.querySelectorAll(selector)).slice(from)
  .map(row => ({
    text: Array.from(row.querySelectorAll('.bubble')).map(b => b.innerText).join('\\n'),
    links: Array.from(row.querySelectorAll('.bubble a')).map(a => a.getAttribute('href')),
    buttons: Array.from(row.querySelectorAll('.buttons button')).map(b => ({
      title: b.innerText, payload: b.dataset.payload, enabled: !b.disabled})),
    citations: Array.from(row.querySelectorAll('a.citation')).map(a => ({
      title: a.innerText, href: a.getAttribute('href'), law_id: a.dataset.lawId,
      article_id: a.dataset.articleId,
      unsure: a.parentElement.classList.contains('unsure')})),
    elements: row.querySelectorAll('.bubble *:not(a)').length,
  }))"""


@dataclass
class Citation:
    title: str
    href: str
    law_id: str
    article_id: str
    unsure: bool


@dataclass
class BotMessage:
    text: str
    links: list[str]
    buttons: list[dict]  # {"title", "payload", "enabled"}
    citations: list[Citation]
    elements: int  # markup elements inside the bubbles other than links (should be 0)


@dataclass
class Reply:
    """What the assistant showed after one message (possibly several bubbles)."""

    messages: list[BotMessage] = field(default_factory=list)
    notice: str = ""  # the error line under the log, if the message did not go through

    @property
    def text(self) -> str:
        return "\n".join(m.text for m in self.messages if m.text)

    @property
    def buttons(self) -> dict[str, str]:
        return {b["title"]: b["payload"] for m in self.messages for b in m.buttons}

    @property
    def citations(self) -> list[Citation]:
        return [c for m in self.messages for c in m.citations]


@contextmanager
def chromium() -> Iterator[object]:
    """A headless Chromium (Debian's /usr/bin/chromium; Playwright never downloads one)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


class ChatPage:
    """One citizen's browser tab on /chat (its own context: own cookie, own conversation)."""

    def __init__(self, page, base: str, *, timeout_ms: int) -> None:
        self.page, self.base, self.timeout_ms = page, base.rstrip("/"), timeout_ms
        self.dialogs: list[str] = []
        page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))

    @classmethod
    def open(cls, browser, base: str, *, timeout_ms: int = 120_000, **context) -> ChatPage:
        """A fresh context (no cookies) with /chat loaded and its script ready."""
        ctx = browser.new_context(locale="vi-VN", viewport={"width": 390, "height": 844},
                                  **context)
        chat = cls(ctx.new_page(), base, timeout_ms=timeout_ms)
        chat.goto_chat()
        return chat

    def goto_chat(self) -> None:
        self.page.goto(self.base + "/chat")
        self.page.wait_for_selector("body[data-ready='1']", timeout=self.timeout_ms)

    def close(self) -> None:
        self.page.context.close()

    # -- reading ------------------------------------------------------------------------------

    def bot_count(self) -> int:
        return self.page.locator(BOT_MESSAGES).count()

    def bot_messages(self, start: int = 0) -> list[BotMessage]:
        rows = self.page.evaluate(_READ, [BOT_MESSAGES, start])
        return [BotMessage(text=r["text"], links=r["links"], buttons=r["buttons"],
                           citations=[Citation(**c) for c in r["citations"]],
                           elements=r["elements"]) for r in rows]

    def user_messages(self) -> list[str]:
        return self.page.locator("#log .msg.user .bubble").all_inner_texts()

    def notice(self) -> str:
        box = self.page.locator("#notice")
        return box.inner_text() if box.is_visible() else ""

    # -- acting -------------------------------------------------------------------------------

    def send(self, text: str) -> Reply:
        """Type ``text`` and press Enter; the reply once the typing indicator is gone."""
        before = self.bot_count()
        self.page.fill("#input", text)
        self.page.press("#input", "Enter")
        return self._reply(before)

    def click_button(self, title: str) -> Reply:
        """Click the live button with this title (the last one on the page)."""
        before = self.bot_count()
        self.page.locator("#log .buttons button:enabled", has_text=title).last.click()
        return self._reply(before)

    def click_suggestion(self, text: str) -> Reply:
        before = self.bot_count()
        self.page.locator("#suggestions .suggestion", has_text=text).click()
        return self._reply(before)

    def _reply(self, before: int) -> Reply:
        self.page.wait_for_selector("#typing", state="detached", timeout=self.timeout_ms)
        return Reply(messages=self.bot_messages(before), notice=self.notice())
