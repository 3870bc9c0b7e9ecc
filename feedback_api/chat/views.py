"""The web chat: the page at /chat and its endpoint that relays messages to Rasa.

The page only ever talks to this API (same origin). ``POST /chat/api/messages`` takes
``{"message": str, "payload"?: str}`` — ``payload`` is a button's payload, ``message`` its
title as the citizen saw it — sends the payload (or else the message) to Rasa's REST channel
under the browser's sender id, and answers with Rasa's messages (text, buttons, custom, image).
Officials' replies come from ``GET /chat/api/replies`` (replies.py).
"""

from __future__ import annotations

import unicodedata
from typing import Any

import anyio
from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel

from feedback_api.chat.deps import Chat, ChatDep
from feedback_api.chat.pages import HERE, render
from feedback_api.deps import SettingsDep
from feedback_api.errors import DomainError, Invalid
from feedback_api.ratelimit import ChatLimit
from feedback_api.settings import Settings

router = APIRouter(include_in_schema=False)
MAX_MESSAGE = 2000


class UnsupportedMedia(DomainError):
    status = 415


class ChatMessageIn(BaseModel):
    message: str
    payload: str | None = None


def install(app: FastAPI, settings: Settings) -> None:
    """The chat and read-more pages, their JSON endpoints and static files."""
    from feedback_api.chat.article_views import router as articles_router
    from feedback_api.chat.replies import router as replies_router

    app.state.chat = Chat.from_settings(settings)
    app.include_router(router)
    app.include_router(articles_router)
    app.include_router(replies_router)
    app.mount("/chat/static", StaticFiles(directory=HERE / "static"), name="chat-static")


def _text(value: str | None, *, what: str, empty: str) -> str:
    """NFC and trimmed, not empty, at most MAX_MESSAGE characters."""
    text = unicodedata.normalize("NFC", (value or "").strip())
    if not text:
        raise Invalid(empty)
    if len(text) > MAX_MESSAGE:
        raise Invalid(f"{what} quá dài (tối đa {MAX_MESSAGE} ký tự). "
                      "Bạn hãy rút gọn hoặc chia thành nhiều tin.")
    return text


@router.get("/chat", dependencies=[ChatLimit])
def chat_page(request: Request, chat: ChatDep, settings: SettingsDep):
    response = render("chat.html", max_message=MAX_MESSAGE,
                      poll_seconds=settings.chat_reply_poll_seconds)
    chat.senders.ensure(request, response)
    response.headers["Cache-Control"] = "no-store"
    return response


@router.post("/chat/api/messages", dependencies=[ChatLimit])
async def post_message(request: Request, response: Response, chat: ChatDep) -> list[dict[str, Any]]:
    if not request.headers.get("content-type", "").startswith("application/json"):
        raise UnsupportedMedia("Tin nhắn phải được gửi dạng JSON (application/json).")
    try:
        body = ChatMessageIn.model_validate_json(await request.body())
    except ValueError as err:
        raise Invalid("Dữ liệu không hợp lệ: cần {\"message\": \"nội dung tin nhắn\"}.") from err
    shown = _text(body.message, what="Tin nhắn",
                  empty="Tin nhắn đang trống. Bạn hãy nhập nội dung cần hỏi hoặc phản ánh.")
    text = shown
    if body.payload is not None:  # a button: its payload goes to Rasa, its title was shown
        text = _text(body.payload, what="Lựa chọn", empty="Lựa chọn đang trống.")
    sender = chat.senders.ensure(request, response)
    return await anyio.to_thread.run_sync(
        lambda: chat.rasa.send(sender=sender, text=text), limiter=chat.threads
    )
