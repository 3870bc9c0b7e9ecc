"""Citizens' pages (chat, read-more): one Jinja2 environment, autoescape on, and the sender
cookie that ties a browser to one Rasa conversation."""

from __future__ import annotations

import secrets
from pathlib import Path

from fastapi import Request
from fastapi.responses import HTMLResponse
from itsdangerous import BadSignature, URLSafeTimedSerializer
from jinja2 import Environment, FileSystemLoader
from starlette.responses import Response

HERE = Path(__file__).resolve().parent
SENDER_COOKIE = "caunoi_chat"
SENDER_MAX_AGE = 30 * 24 * 3600  # seconds: a citizen may come back to a conversation later
SENDER_PREFIX = "web-"

TEMPLATES = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=True,
                        trim_blocks=True, lstrip_blocks=True)


def render(name: str, *, status: int = 200, **context) -> HTMLResponse:
    return HTMLResponse(TEMPLATES.get_template(name).render(**context), status_code=status)


class SenderCookies:
    """A random sender id per browser, in a signed HttpOnly cookie.

    The id is chosen here, never by the client: Rasa's REST channel believes whatever sender
    it is given, so a forged id would read or write someone else's conversation.
    """

    def __init__(self, secret_key: str | bytes, *, secure: bool) -> None:
        self.serializer = URLSafeTimedSerializer(secret_key, salt="caunoi-chat-sender")
        self.secure = secure

    def read(self, request: Request) -> str | None:
        cookie = request.cookies.get(SENDER_COOKIE)
        if not cookie:
            return None
        try:
            sender = self.serializer.loads(cookie, max_age=SENDER_MAX_AGE)
        except (BadSignature, ValueError, TypeError):
            return None
        ok = isinstance(sender, str) and sender.startswith(SENDER_PREFIX) and len(sender) < 100
        return sender if ok else None

    def ensure(self, request: Request, response: Response) -> str:
        """The request's sender id; a new one (and its cookie) when missing or invalid."""
        sender = self.read(request)
        if sender is None:
            sender = SENDER_PREFIX + secrets.token_urlsafe(18)
            response.set_cookie(SENDER_COOKIE, self.serializer.dumps(sender),
                                max_age=SENDER_MAX_AGE, path="/chat", httponly=True,
                                samesite="lax", secure=self.secure)
        return sender
