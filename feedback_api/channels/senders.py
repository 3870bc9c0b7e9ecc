"""Sending to citizens on Zalo and Messenger from the outbox.

Two ways in, one way out: the assistant's turns (``channel_message``: platform-ready parts
from the dispatcher) and officials' replies and status notices (``citizen_reply`` on the
``zalo`` and ``messenger`` channels, rendered here). Either way the parts go out in order and
each part the platform accepted is recorded in ``channel_delivery``, so a retry after a failure
halfway sends only what is missing. A citizen's messages keep their order: while an earlier one
of the same kind is still on its way, a later one is handed back (``Deferred``, not a failed
attempt).

The platforms' windows are checked before sending, from the citizen's last message
(``channel_user.last_inbound_at``): Zalo's consultation messages within 7 days; Messenger's
standard messages within 24 hours and officials' replies (``HUMAN_AGENT``) within 7 days.
Outside, nothing is sent (``WindowClosed``: dead at once, with the reason), and a reply's item
says so in its history; the reply stays on the status page.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import select

from feedback_api.channels.base import Rendered, WindowClosed
from feedback_api.channels.orm import ChannelDelivery, ChannelUser
from feedback_api.db import Database, utcnow
from feedback_api.notify.orm import OutboxMessage
from feedback_api.notify.senders import Deferred, Sender, SendError, payload_field
from feedback_api.notify.service import CHANNEL_MESSAGE

log = logging.getLogger(__name__)

ZALO_WINDOW = timedelta(days=7)
MESSENGER_WINDOW = timedelta(hours=24)
HUMAN_AGENT_WINDOW = timedelta(days=7)
PLATFORM_NAMES = {"zalo": "Zalo", "messenger": "Messenger"}


class Client(Protocol):
    def send(self, user_id: str, message: dict, **options) -> str: ...


WINDOW_CLOSED = "Ngoài khung gửi tin của nền tảng: "  # starts the reason of such a message


def is_window_closed(error: str | None) -> bool:
    """Whether an outbox error says the platform's window was closed (not a failure to retry
    blindly: it can go once the citizen writes again)."""
    return bool(error) and error.startswith(WINDOW_CLOSED)


def window_reason(platform: str, purpose: str) -> str:
    if platform == "zalo":
        return WINDOW_CLOSED + "người dân chưa nhắn cho OA Zalo trong 7 ngày qua"
    if purpose == "reply":
        return WINDOW_CLOSED + "đã quá 7 ngày kể từ tin nhắn cuối của người dân trên Messenger"
    return WINDOW_CLOSED + "đã quá 24 giờ kể từ tin nhắn cuối của người dân trên Messenger"


class PlatformSends:
    """Sends the parts of one outbox message to one citizen on one platform."""

    def __init__(self, database: Database, clients: Mapping[str, Client],
                 *, clock: Callable[[], datetime] = utcnow) -> None:
        self.database = database
        self.clients = dict(clients)
        self.clock = clock

    def options(self, platform: str, purpose: str) -> dict:
        """The send options the purpose needs (Messenger's messaging type and tag)."""
        if platform != "messenger":
            return {}
        if purpose == "reply":  # written by a person: the 7-day human agent tag
            return {"messaging_type": "MESSAGE_TAG", "tag": "HUMAN_AGENT"}
        return {"messaging_type": "RESPONSE" if purpose == "response" else "UPDATE"}

    def check(self, message: OutboxMessage, platform: str, user_id: str, purpose: str) -> None:
        """Refuse outside the window; defer behind an earlier message to the same citizen."""
        with self.database.session() as session:
            user = session.get(ChannelUser, (platform, user_id))
            last = user.last_inbound_at if user else None
            # the same kind only: an official's reply stuck in retries must not hold up the
            # assistant's answers, nor the other way round
            earlier = session.scalar(
                select(OutboxMessage.id).where(
                    OutboxMessage.kind == message.kind,
                    OutboxMessage.id < message.id,
                    OutboxMessage.status.in_(("pending", "sending")),
                    OutboxMessage.payload["channel"].as_string() == platform,
                    OutboxMessage.payload["sender_id"].as_string() == user_id,
                ).limit(1))
        if earlier is not None:
            raise Deferred("an earlier message to this citizen is on its way")
        window = ZALO_WINDOW if platform == "zalo" else (
            HUMAN_AGENT_WINDOW if purpose == "reply" else MESSENGER_WINDOW)
        if last is None or self.clock() - last > window:
            raise WindowClosed(window_reason(platform, purpose))

    def send_parts(self, message: OutboxMessage, platform: str, user_id: str,
                   parts: list[dict], purpose: str) -> None:
        client = self.clients.get(platform)
        if client is None:
            raise SendError(f"{PLATFORM_NAMES.get(platform, platform)} chưa được cấu hình",
                            retryable=False)
        self.check(message, platform, user_id, purpose)
        with self.database.session() as session:
            done = set(session.scalars(select(ChannelDelivery.part)
                                       .where(ChannelDelivery.outbox_id == message.id)))
        options = self.options(platform, purpose)
        for index, part in enumerate(parts):
            if index in done:
                continue  # accepted by the platform on an earlier attempt
            try:
                platform_id = client.send(user_id, part, **options)
            except WindowClosed as exc:  # the platform knew better than our last_inbound_at
                if is_window_closed(exc.reason):
                    raise
                raise WindowClosed(WINDOW_CLOSED + exc.reason) from None
            with self.database.session() as session:
                session.add(ChannelDelivery(outbox_id=message.id, part=index,
                                            platform_message_id=str(platform_id)[:200],
                                            sent_at=utcnow()))


class ChannelMessageSender(Sender):
    """The assistant's turns (``channel_message``), queued by the dispatcher."""

    kind = CHANNEL_MESSAGE

    def __init__(self, sends: PlatformSends) -> None:
        self.sends = sends

    def send(self, message: OutboxMessage) -> None:
        parts = (message.payload or {}).get("parts")
        if not isinstance(parts, list) or not parts:
            raise SendError("payload field 'parts' missing", retryable=False)
        self.sends.send_parts(message, payload_field(message, "channel"),
                              payload_field(message, "sender_id"), parts,
                              (message.payload or {}).get("purpose") or "response")


class PlatformReplySender:
    """Officials' replies and status notices on Zalo and Messenger (inside ``citizen_reply``)."""

    def __init__(self, sends: PlatformSends,
                 renderers: Mapping[str, Callable[[list[dict]], Rendered]],
                 on_window_closed: Callable[[OutboxMessage, str], None]) -> None:
        self.sends = sends
        self.renderers = dict(renderers)
        self.channels = set(renderers)
        self.on_window_closed = on_window_closed

    def deliver(self, message: OutboxMessage) -> None:
        payload = message.payload or {}
        platform, user_id = payload["channel"], payload["sender_id"]
        parts = self.renderers[platform]([{"text": payload["text"]}]).parts
        try:
            self.sends.send_parts(message, platform, user_id, parts,
                                  payload.get("purpose") or "reply")
        except WindowClosed as exc:
            self.on_window_closed(message, exc.reason)
            raise
