"""What the gateway and the background worker both build from settings: the platforms' send
clients, their renderers, and the outbox senders (``senders_for``). Kept apart from gateway.py,
which runs an outbox worker of its own, so that notify/worker.py can use it without a cycle."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select

from feedback_api.channels import messenger, zalo
from feedback_api.channels.messenger_api import MessengerClient
from feedback_api.channels.senders import (
    ChannelMessageSender,
    PlatformReplySender,
    PlatformSends,
)
from feedback_api.channels.zalo_api import ZaloClient
from feedback_api.db import Database
from feedback_api.notify.orm import OutboxMessage
from feedback_api.settings import Settings


def describe(settings: Settings) -> list[str]:
    """One line per platform for the start log: on, or off and which settings are missing."""
    lines = []
    for name, on, needed in (
        ("Zalo", settings.zalo_on, ("CAUNOI_ZALO_APP_ID", "CAUNOI_ZALO_APP_SECRET",
                                    "CAUNOI_ZALO_OA_SECRET", "CAUNOI_ZALO_REFRESH_TOKEN")),
        ("Messenger", settings.messenger_on, ("CAUNOI_MESSENGER_APP_SECRET",
                                              "CAUNOI_MESSENGER_VERIFY_TOKEN",
                                              "CAUNOI_MESSENGER_PAGE_TOKEN")),
    ):
        if on:
            lines.append(f"Kênh {name}: bật")
        else:
            lines.append(f"Kênh {name}: tắt (cần đặt {', '.join(needed)})")
    return lines


def clients(settings: Settings, database: Database) -> dict:
    """The configured platforms' send clients."""
    out: dict = {}
    if settings.zalo_on:
        out["zalo"] = ZaloClient(database, settings)
        out["zalo"].seed()  # the environment's token pair, unless the database has a newer one
    if settings.messenger_on:
        out["messenger"] = MessengerClient(database, settings)
    return out


RENDERERS = {"zalo": zalo.render, "messenger": messenger.render}


def note_window_closed(database: Database) -> Callable[[OutboxMessage, str], None]:
    """Write in the item's history that its reply could not be sent on the platform."""
    from feedback_api.feedback.orm import FeedbackItem
    from feedback_api.feedback.service import add_event

    def note(message: OutboxMessage, reason: str) -> None:
        code = (message.payload or {}).get("tracking_code")
        if not code:
            return
        with database.session() as session:
            item = session.scalar(select(FeedbackItem).where(FeedbackItem.tracking_code == code))
            if item is None:
                return
            add_event(session, item, actor="system:channel", action="not_delivered",
                      reason=f"Không gửi được qua kênh của người dân ({reason}). Trả lời vẫn "
                             "xem được trên trang tra cứu bằng mã phản ánh.")

    return note


def senders_for(settings: Settings, database: Database,
                configured: dict | None = None) -> tuple[list, list]:
    """(outbox senders, citizen-reply channel senders) for the configured platforms."""
    configured = clients(settings, database) if configured is None else configured
    if not configured:
        return [], []
    sends = PlatformSends(database, configured)
    replies = PlatformReplySender(sends, {p: RENDERERS[p] for p in configured},
                                  note_window_closed(database))
    return [ChannelMessageSender(sends)], [replies]
