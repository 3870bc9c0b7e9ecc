"""Enqueue side effects in the caller's transaction (transactional outbox), idempotently.

Each ``enqueue_*`` function adds an ``OutboxMessage`` to the caller's session and flushes it, so
the message commits or rolls back together with the change that caused it. The worker
(``feedback_api.notify.worker``) delivers it later. Enqueueing a ``dedupe_key`` that already
exists returns the existing row: the same logical message is never queued twice, even when two
transactions race (the loser's INSERT fails on the unique key inside a SAVEPOINT and it reads the
winner's row instead).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from feedback_api.db import utcnow
from feedback_api.notify.orm import CitizenMessage, OutboxMessage

EMAIL = "email"
WEBHOOK = "webhook"
CITIZEN_REPLY = "citizen_reply"
CHANNEL_MESSAGE = "channel_message"  # the assistant's turn on Zalo or Messenger (channels/)
TO_CITIZEN = (CITIZEN_REPLY, CHANNEL_MESSAGE)  # payloads keyed by channel and sender_id
PURPOSES = ("reply", "status", "response")
OPEN_STATUSES = ("pending", "sending")
MAX_DEDUPE_KEY = 200


def enqueue_email(
    session: Session, *, to: str, subject: str, body: str, dedupe_key: str
) -> OutboxMessage:
    """Queue a plain-text email to one recipient."""
    _require_single_line(to=to, subject=subject)
    if "@" not in to or "," in to or " " in to.strip():
        raise ValueError("to must be one email address")
    payload = {"to": to.strip(), "subject": subject, "body": body}
    return _enqueue(session, kind=EMAIL, payload=payload, dedupe_key=dedupe_key)


def enqueue_webhook(
    session: Session, *, url: str, event: str, data: dict, dedupe_key: str
) -> OutboxMessage:
    """Queue a signed JSON POST of ``{"event", "id", "data"}`` to an http(s) URL."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("webhook url must be an absolute http(s) URL")
    _require_single_line(event=event)
    payload = {"url": url, "event": event, "data": data}
    return _enqueue(session, kind=WEBHOOK, payload=payload, dedupe_key=dedupe_key)


def enqueue_citizen_reply(
    session: Session,
    *,
    channel: str,
    sender_id: str,
    text: str,
    tracking_code: str,
    dedupe_key: str,
    purpose: str = "reply",
) -> OutboxMessage:
    """Queue a message to a citizen over the channel they wrote from (web, api, zalo, ...):
    an official's ``reply`` or a ``status`` notice (routed, closed)."""
    if not channel or not sender_id:
        raise ValueError("channel and sender_id are required")
    if not text.strip():
        raise ValueError("reply text is empty")
    if purpose not in PURPOSES:
        raise ValueError(f"purpose must be one of {PURPOSES}")
    payload = {
        "channel": channel,
        "sender_id": sender_id,
        "text": text,
        "tracking_code": tracking_code,
        "purpose": purpose,
    }
    return _enqueue(session, kind=CITIZEN_REPLY, payload=payload, dedupe_key=dedupe_key)


def enqueue_channel_message(
    session: Session, *, channel: str, sender_id: str, parts: list[dict], purpose: str,
    dedupe_key: str,
) -> OutboxMessage:
    """Queue platform-ready messages (one turn of the assistant), sent in order, each once."""
    if not channel or not sender_id or not parts:
        raise ValueError("channel, sender_id and parts are required")
    payload = {"channel": channel, "sender_id": sender_id, "parts": parts, "purpose": purpose}
    return _enqueue(session, kind=CHANNEL_MESSAGE, payload=payload, dedupe_key=dedupe_key)


def pending_count(session: Session) -> int:
    """How many messages are not yet delivered (pending or being sent)."""
    stmt = select(func.count()).select_from(OutboxMessage)
    return session.scalar(stmt.where(OutboxMessage.status.in_(OPEN_STATUSES))) or 0


def messages_for(session: Session, *, dedupe_prefix: str) -> list[OutboxMessage]:
    """Messages whose dedupe key starts with ``dedupe_prefix`` (e.g. one item's), oldest first."""
    stmt = (
        select(OutboxMessage)
        .where(OutboxMessage.dedupe_key.startswith(dedupe_prefix, autoescape=True))
        .order_by(OutboxMessage.id)
    )
    return list(session.scalars(stmt))


def requeue(session: Session, *, message_id: int) -> bool:
    """Send a failed message again from its first attempt (an official's "Gửi lại"): a dead
    one, or one waiting for its next try after an error. ``last_error`` stays until the next
    attempt overwrites it. False, and nothing changed, for any other message (sent, being
    sent, not yet tried): the condition is in the UPDATE, so a worker's lease always wins."""
    failed = or_(OutboxMessage.status == "dead",
                 and_(OutboxMessage.status == "pending", OutboxMessage.last_error.is_not(None)))
    stmt = (
        update(OutboxMessage)
        .where(OutboxMessage.id == message_id, failed)
        .values(status="pending", attempts=0, next_attempt_at=utcnow(), leased_until=None)
        .execution_options(synchronize_session=False)
    )
    return session.execute(stmt).rowcount == 1


def replies_to(session: Session, *, channel: str, sender_id: str) -> list[OutboxMessage]:
    """Every message queued for one citizen (replies, notices, the assistant's turns; any
    status), oldest first."""
    stmt = select(OutboxMessage).where(
        OutboxMessage.kind.in_(TO_CITIZEN),
        OutboxMessage.payload["channel"].as_string() == channel,
        OutboxMessage.payload["sender_id"].as_string() == sender_id,
    )
    return list(session.scalars(stmt.order_by(OutboxMessage.id)))


def about_items(session: Session, *, tracking_codes: list[str]) -> list[OutboxMessage]:
    """Messages about these items (email and webhook notices, replies): keyed by their code."""
    if not tracking_codes:
        return []
    stmt = select(OutboxMessage).where(or_(*(
        OutboxMessage.dedupe_key.contains(f":{code}:", autoescape=True)
        for code in tracking_codes)))
    return list(session.scalars(stmt.order_by(OutboxMessage.id)))


def erase_for(
    session: Session, *, channel: str, sender_id: str, tracking_codes: list[str],
    redact: Callable[[Any], Any],
) -> int:
    """Erase a citizen from the outbox; returns how many messages were deleted or changed.

    Replies to them are deleted whatever their status: a sent one was delivered already, and
    one not yet sent is not sent to someone who asked to be forgotten. Notices about their items
    (to a liaison, a department's webhook) keep being delivered, with the citizen's known
    identifiers cut out of the payload by ``redact``, as their items keep their text.
    """
    replies = replies_to(session, channel=channel, sender_id=sender_id)
    for message in replies:
        session.delete(message)
    changed = 0
    for message in about_items(session, tracking_codes=tracking_codes):
        if message.kind in TO_CITIZEN:
            continue  # deleted above, or another citizen's
        payload = redact(message.payload)
        error = redact(message.last_error)
        if payload != message.payload or error != message.last_error:
            message.payload, message.last_error = payload, error
            changed += 1
    session.flush()
    return len(replies) + changed


def messages_to(session: Session, *, channel: str, sender_id: str) -> list[CitizenMessage]:
    """The replies delivered to one citizen on the web or API channel, oldest first."""
    stmt = select(CitizenMessage).where(CitizenMessage.channel == channel,
                                        CitizenMessage.sender_id == sender_id)
    return list(session.scalars(stmt.order_by(CitizenMessage.id)))


def messages_after(
    session: Session, *, channel: str, sender_id: str, after: int, limit: int
) -> list[CitizenMessage]:
    """One citizen's replies with an id above ``after``, oldest first, at most ``limit`` (the
    web chat asks for what it has not shown yet)."""
    stmt = select(CitizenMessage).where(CitizenMessage.channel == channel,
                                        CitizenMessage.sender_id == sender_id,
                                        CitizenMessage.id > after)
    return list(session.scalars(stmt.order_by(CitizenMessage.id).limit(limit)))


def erase_messages_to(session: Session, *, channel: str, sender_id: str) -> int:
    """Delete the replies delivered to one citizen; returns how many."""
    rows = messages_to(session, channel=channel, sender_id=sender_id)
    for row in rows:
        session.delete(row)
    session.flush()
    return len(rows)


def _enqueue(session: Session, *, kind: str, payload: dict, dedupe_key: str) -> OutboxMessage:
    if not dedupe_key or len(dedupe_key) > MAX_DEDUPE_KEY:
        raise ValueError(f"dedupe_key must be 1-{MAX_DEDUPE_KEY} characters")
    existing = _by_key(session, dedupe_key)
    if existing is not None:
        return existing
    now = utcnow()
    message = OutboxMessage(
        kind=kind,
        dedupe_key=dedupe_key,
        payload=payload,
        status="pending",
        attempts=0,
        next_attempt_at=now,
        created_at=now,
    )
    try:
        # A SAVEPOINT, so losing a race on the unique key keeps the caller's transaction usable.
        with session.begin_nested():
            session.add(message)
    except IntegrityError:
        existing = _by_key(session, dedupe_key)
        if existing is None:  # the conflict was not on dedupe_key
            raise
        return existing
    return message


def _by_key(session: Session, dedupe_key: str) -> OutboxMessage | None:
    stmt = select(OutboxMessage).where(OutboxMessage.dedupe_key == dedupe_key)
    return session.scalars(stmt).one_or_none()


def _require_single_line(**fields: str) -> None:
    """Header-like fields must not contain line breaks (header injection)."""
    for name, value in fields.items():
        if not value or "\n" in value or "\r" in value:
            raise ValueError(f"{name} must be a non-empty single line")
