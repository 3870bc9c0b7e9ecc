"""Storing inbound events before the webhook is acknowledged, and what the gateway knows of a
citizen on a platform (the messaging window, stopped notices, photos waiting for an item)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from feedback_api.channels.base import Inbound
from feedback_api.channels.orm import ChannelEvent, ChannelUser
from feedback_api.channels.state import record_event
from feedback_api.db import Database, utcnow

MAX_PENDING_ATTACHMENTS = 5
PENDING_ATTACHMENT_HOURS = 24  # photos older than this are not attached to a new item
# How far a platform's own timestamp may be trusted for ordering (clock skew, retries)
MAX_SKEW = timedelta(hours=24)


def _insert(session: Session, table):
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    return dialect.insert(table)


def _sent_at(event: Inbound, now: datetime) -> datetime:
    if event.timestamp_ms is None:
        return now
    try:
        sent = datetime.fromtimestamp(event.timestamp_ms / 1000, UTC)
    except (OverflowError, OSError, ValueError):
        return now
    return sent if abs(sent - now) <= MAX_SKEW else now


def store_events(database: Database, platform: str, events: Iterable[Inbound],
                 now: datetime | None = None) -> int:
    """Insert each event once (a redelivery or a concurrent copy is dropped by the unique key)
    and note the citizen's interaction; committed when this returns. Returns how many were
    new."""
    now = now or utcnow()
    new = 0
    with database.session() as session:
        for event in events:
            stmt = _insert(session, ChannelEvent.__table__).values(
                platform=platform, event_key=event.event_key, user_id=event.user_id,
                body=event.as_json(), sent_at=_sent_at(event, now), received_at=now,
                status="pending", attempts=0, next_attempt_at=now,
            ).on_conflict_do_nothing(index_elements=["platform", "event_key"])
            inserted = session.execute(stmt).rowcount
            new += inserted
            if inserted:
                touch_user(session, platform, event.user_id, now)
        record_event(session, platform, now)
    return new


def touch_user(session: Session, platform: str, user_id: str, now: datetime) -> None:
    """The citizen interacted now: the platforms' messaging windows restart."""
    table = ChannelUser.__table__
    stmt = _insert(session, table).values(
        platform=platform, user_id=user_id, last_inbound_at=now, choices={},
        pending_attachments=[], notices_off=False, created_at=now)
    session.execute(stmt.on_conflict_do_update(
        index_elements=["platform", "user_id"], set_={"last_inbound_at": now}))


def get_user(session: Session, platform: str, user_id: str) -> ChannelUser | None:
    return session.get(ChannelUser, (platform, user_id))


def notices_wanted(session: Session, channel: str, sender_id: str) -> bool:
    """Whether a citizen still wants status notices ("dừng thông báo" stops them)."""
    user = get_user(session, channel, sender_id)
    return user is None or not user.notices_off


def take_attachments(session: Session, channel: str, sender_id: str,
                     now: datetime | None = None) -> list[str]:
    """The photos a citizen sent in the last day, for the item they are filing; emptied."""
    user = get_user(session, channel, sender_id)
    if user is None or not user.pending_attachments:
        return []
    cutoff = (now or utcnow()) - timedelta(hours=PENDING_ATTACHMENT_HOURS)
    urls = [a["url"] for a in user.pending_attachments
            if isinstance(a, dict) and a.get("at", "") >= cutoff.isoformat()]
    user.pending_attachments = []
    return urls


def keep_attachments(user: ChannelUser, urls: Iterable[str], now: datetime) -> None:
    kept = list(user.pending_attachments or []) + [
        {"url": url, "at": now.isoformat()} for url in urls]
    user.pending_attachments = kept[-MAX_PENDING_ATTACHMENTS:]


def events_of(session: Session, platform: str, user_id: str) -> list[ChannelEvent]:
    stmt = select(ChannelEvent).where(ChannelEvent.platform == platform,
                                      ChannelEvent.user_id == user_id)
    return list(session.scalars(stmt.order_by(ChannelEvent.id)))
