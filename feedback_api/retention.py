"""How long what the service writes is kept: the worker deletes what is past its retention.

Each store has its own setting in days (``CAUNOI_RETENTION_*``; 0 keeps forever, see
docs/operations.md). The worker runs :class:`Retention` as a periodic task (worker.py), at
most once an hour, in two parts with their own transactions: the feedback store's tables, then
Rasa's tracker store, so that one unreachable store does not hold back the other.

What goes, after how long:
- outbox messages that were sent (by ``sent_at``): the row, with its payload;
- outbox messages that are dead (by ``created_at``): the payload and the error are blanked,
  the row stays as a record that a message was lost;
- replies delivered to the web chat (``citizen_message``, by ``created_at``);
- what citizens sent on Zalo and Messenger, once handled (``channel_event``, by
  ``received_at``), the record of which message parts a platform accepted
  (``channel_delivery``, by ``sent_at``), and what the gateway knows of a citizen who has not
  written since (``channel_user``, by ``last_inbound_at``);
- the audit log (``audit_entry``, by ``at``);
- conversations in Rasa's tracker store (``feedback_api.privacy.tracker``);
- heartbeats of workers gone for a day (not a setting: they hold nothing about anyone).

Feedback items and their events are the province's case files, kept until erased on request
(personal-data API) or by its own archive rules; they are not touched here.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import delete, or_, update
from sqlalchemy.orm import Session

from feedback_api.auth.orm import AuditEntry
from feedback_api.channels.orm import ChannelDelivery, ChannelEvent, ChannelUser
from feedback_api.health import WorkerHeartbeat
from feedback_api.notify.orm import CitizenMessage, OutboxMessage
from feedback_api.settings import Settings

log = logging.getLogger(__name__)

RUN_EVERY_SECONDS = 3600.0
HEARTBEAT_DAYS = 1
BLANKED = "payload removed (retention)"


def cutoff(now: datetime, days: int) -> datetime | None:
    """The instant before which rows go; None when ``days`` is 0 (kept forever)."""
    return now - timedelta(days=days) if days > 0 else None


def prune_tables(session: Session, settings: Settings, now: datetime) -> dict[str, int]:
    """Apply the feedback store's retention in ``session``; returns rows affected per store."""
    done: dict[str, int] = {}
    if (before := cutoff(now, settings.retention_sent_outbox_days)) is not None:
        done["outbox_sent"] = _rows(session.execute(delete(OutboxMessage).where(
            OutboxMessage.status == "sent", OutboxMessage.sent_at < before)))
    if (before := cutoff(now, settings.retention_dead_outbox_days)) is not None:
        done["outbox_dead_blanked"] = _rows(session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.status == "dead", OutboxMessage.created_at < before,
                   or_(OutboxMessage.last_error.is_(None), OutboxMessage.last_error != BLANKED))
            .values(payload={}, last_error=BLANKED)))
    if (before := cutoff(now, settings.retention_citizen_message_days)) is not None:
        done["citizen_message"] = _rows(session.execute(
            delete(CitizenMessage).where(CitizenMessage.created_at < before)))
    if (before := cutoff(now, settings.retention_audit_days)) is not None:
        done["audit_entry"] = _rows(session.execute(
            delete(AuditEntry).where(AuditEntry.at < before)))
    if (before := cutoff(now, settings.retention_channel_days)) is not None:
        done["channel_event"] = _rows(session.execute(delete(ChannelEvent).where(
            ChannelEvent.status != "pending", ChannelEvent.received_at < before)))
        done["channel_delivery"] = _rows(session.execute(delete(ChannelDelivery).where(
            ChannelDelivery.sent_at < before)))
        done["channel_user"] = _rows(session.execute(delete(ChannelUser).where(
            ChannelUser.last_inbound_at < before)))
    done["worker_heartbeat"] = _rows(session.execute(delete(WorkerHeartbeat).where(
        WorkerHeartbeat.beat_at < now - timedelta(days=HEARTBEAT_DAYS))))
    return done


def _rows(result) -> int:
    return max(result.rowcount or 0, 0)


def tracker_store(settings: Settings):
    """Rasa's tracker store (``feedback_api.privacy.tracker``), or None when none is configured
    (``CAUNOI_TRACKER_STORE_URL``). Imported only when configured: most tests never need it."""
    if not settings.tracker_store_url:
        return None
    from feedback_api.privacy.tracker import TrackerStore

    return TrackerStore(settings.tracker_store_url)


def prune_tracker(settings: Settings, now: datetime) -> int | None:
    """Delete conversations whose last event is older than the tracker retention; returns how
    many, or None when there is nothing to do (kept forever, or no tracker configured)."""
    before = cutoff(now, settings.retention_tracker_days)
    store = tracker_store(settings) if before is not None else None
    if store is None:
        return None
    try:
        return store.prune(before)
    finally:
        store.dispose()


class Retention:
    """The worker's two periodic tasks, each run at most once per ``every`` seconds.

    They are separate tasks, so each has its own transaction: the tracker's part (another
    database) never runs while the feedback store's write lock is held, and a failure in one
    leaves the other's work done.
    """

    def __init__(self, settings: Settings, *, every: float = RUN_EVERY_SECONDS) -> None:
        self.settings = settings
        self.every = every
        self._last: dict[str, datetime] = {}

    def _due(self, part: str, now: datetime) -> bool:
        last = self._last.get(part)
        if last is not None and 0 <= (now - last).total_seconds() < self.every:
            return False
        self._last[part] = now
        return True

    def tables(self, session: Session, now: datetime) -> dict[str, int] | None:
        if not self._due("tables", now):
            return None
        done = prune_tables(session, self.settings, now)
        if any(done.values()):
            log.info("retention: %s", ", ".join(f"{k}={v}" for k, v in done.items() if v))
        return done

    def tracker(self, session: Session, now: datetime) -> int | None:
        """``session`` (the feedback store's) is not used: no statement, so no lock taken."""
        if not self._due("tracker", now):
            return None
        pruned = prune_tracker(self.settings, now)
        if pruned:
            log.info("retention: tracker_conversations=%s", pruned)
        return pruned

    @property
    def tasks(self) -> list:
        return [self.tables, self.tracker]
