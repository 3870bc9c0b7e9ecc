"""What the chat made once at install (views.install), as a typed dependency of its views."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Annotated

import anyio
from fastapi import Depends, Request

from feedback_api.chat.articles import ArticleIndex
from feedback_api.chat.pages import SenderCookies
from feedback_api.chat.rasa import RasaClient
from feedback_api.settings import Settings

# Waiting for Rasa holds a thread; chats get their own pool so they never starve other routes.
RASA_THREADS = 64


class ArticleShelf:
    """The article index of the loaded search index, made on the first read-more request."""

    def __init__(self) -> None:
        self._index: ArticleIndex | None = None
        self._lock = threading.Lock()

    def index(self, searcher) -> ArticleIndex | None:
        if searcher is None:
            return None
        with self._lock:
            if self._index is None or self._index.searcher is not searcher:
                self._index = ArticleIndex(searcher)
            return self._index


@dataclass(frozen=True)
class Chat:
    rasa: RasaClient  # Rasa's REST channel
    senders: SenderCookies  # one sender id per browser, in a signed cookie
    threads: anyio.CapacityLimiter  # the threads that wait for Rasa
    articles: ArticleShelf = field(default_factory=ArticleShelf)

    @classmethod
    def from_settings(cls, settings: Settings) -> Chat:
        """Rasa's address and timeout (CAUNOI_RASA_URL, CAUNOI_RASA_TIMEOUT), the cookie key."""
        return cls(
            rasa=RasaClient(base_url=settings.rasa_url, timeout=settings.rasa_timeout),
            senders=SenderCookies(
                settings.key("chat-sender"), secure=settings.secure_cookies
            ),
            threads=anyio.CapacityLimiter(RASA_THREADS),
        )


async def _chat(request: Request) -> Chat:
    return request.app.state.chat  # made once by chat.views.install


ChatDep = Annotated[Chat, Depends(_chat)]
