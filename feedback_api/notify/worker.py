"""The outbox worker: claims due messages, sends them outside any transaction, records results.

Several workers (threads, processes, API replicas) can drain one outbox. A claim is a short
transaction that leases due rows: ``SELECT … FOR UPDATE SKIP LOCKED`` on PostgreSQL, the write
lock taken by ``BEGIN IMMEDIATE`` on SQLite. Sending happens after that transaction committed,
so a slow SMTP server never holds a database lock. The result is recorded only if the lease is
still ours (``attempts`` is the fencing token). A worker that dies mid-send leaves its lease to
expire; the message becomes claimable again, so it is retried, never lost.

Delivery is at-least-once in one narrow window: the receiver accepted the message but the worker
died before recording "sent". Emails carry a Message-ID and webhooks an id derived from the
dedupe key, and web replies are unique per outbox id, so receivers can drop such a duplicate.

Logs name message ids and kinds only, never addresses, bodies or channel user ids.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from feedback_api.db import Database, utcnow
from feedback_api.notify.orm import OutboxMessage
from feedback_api.notify.senders import (
    CitizenReplySender,
    Deferred,
    EmailSender,
    Sender,
    SendError,
    WebChannelSender,
    WebhookSender,
    department_secrets,
)
from feedback_api.settings import Settings

log = logging.getLogger(__name__)

Periodic = Callable[[Session, datetime], object]
MAX_ERROR_CHARS = 500
BACKOFF_BASE_SECONDS = 15.0
BACKOFF_CAP_SECONDS = 3600.0


def default_backoff(attempt: int) -> float:
    """Seconds before retry ``attempt + 1``: doubling from 15 s up to 1 h, with equal jitter."""
    ceiling = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2 ** max(attempt - 1, 0))
    return ceiling / 2 + random.uniform(0, ceiling / 2)


class Worker:
    """Drains the outbox for the kinds it has senders for; see the module docstring."""

    def __init__(
        self,
        database: Database,
        senders: Mapping[str, Sender],
        *,
        batch: int = 20,
        lease_seconds: float = 60,
        max_attempts: int = 8,
        backoff: Callable[[int], float] = default_backoff,
        periodic: Sequence[Periodic] = (),
        periodic_every: float = 60.0,
    ) -> None:
        if batch < 1 or lease_seconds <= 0 or max_attempts < 1:
            raise ValueError("batch, lease_seconds and max_attempts must be positive")
        self.database = database
        self.senders = dict(senders)
        self.batch = batch
        self.lease_seconds = lease_seconds
        self.max_attempts = max_attempts
        self.backoff = backoff
        self.periodic = tuple(periodic)
        self.periodic_every = periodic_every
        self._last_periodic: datetime | None = None
        self._wake = threading.Event()

    def wake(self) -> None:
        """A message was queued in this process: look at once instead of at the next poll."""
        self._wake.set()

    def run_once(self, now: datetime | None = None) -> int:
        """One pass: deliver a batch of due messages, run periodic tasks; returns messages tried.

        ``now`` (tests) stands for the current time in due dates, leases and backoff.
        """
        claimed = self._claim(now or utcnow()) if self.senders else []
        started = time.monotonic()
        for index, message in enumerate(claimed):
            if time.monotonic() - started > self.lease_seconds / 2:
                # Slow sends ate half the lease: hand the rest back before another worker
                # could take them over while we are still sending.
                self._release(claimed[index:])
                claimed = claimed[:index]
                break
            self._deliver(message, now)
        self._run_periodic(now or utcnow())
        return len(claimed)

    def run_forever(self, stop: threading.Event, interval: float) -> None:
        """Poll every ``interval`` seconds (at once while batches are full) until ``stop``."""
        while not stop.is_set():
            try:
                tried = self.run_once()
            except Exception as exc:  # noqa: BLE001 - keep polling; the database may come back
                log.error("outbox pass failed: %s", type(exc).__name__)
                tried = 0
            if tried < self.batch and not stop.is_set():
                self._wake.wait(interval)
                self._wake.clear()

    def start_in_thread(self, interval: float = 0.5) -> tuple[threading.Thread, threading.Event]:
        """Run in a daemon thread (the API's in-process worker); set the event to stop it."""
        stop = threading.Event()
        thread = threading.Thread(
            target=self.run_forever, args=(stop, interval), name="caunoi-outbox", daemon=True
        )
        thread.start()
        return thread, stop

    def _due(self, now: datetime):
        due = or_(
            and_(OutboxMessage.status == "pending", OutboxMessage.next_attempt_at <= now),
            and_(OutboxMessage.status == "sending", OutboxMessage.leased_until <= now),
        )
        stmt = (
            select(OutboxMessage)
            .where(OutboxMessage.kind.in_(sorted(self.senders)), due)
            .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
            .limit(self.batch)
        )
        if self.database.is_postgres:
            stmt = stmt.with_for_update(skip_locked=True)
        return stmt

    def _claim(self, now: datetime) -> list[OutboxMessage]:
        """Lease due messages in one short transaction; the rows come back detached."""
        lease_until = now + timedelta(seconds=self.lease_seconds)
        claimed: list[OutboxMessage] = []
        with self.database.session() as session:
            for message in session.scalars(self._due(now)).all():
                if message.status == "sending" and message.attempts >= self.max_attempts:
                    message.status = "dead"
                    message.leased_until = None
                    message.last_error = "lease expired during the last attempt"
                    log.error("outbox %s (%s) dead: lease expired", message.id, message.kind)
                    continue
                if message.status == "sending":
                    log.warning("outbox %s (%s): lease expired, retrying", message.id, message.kind)
                message.status = "sending"
                message.leased_until = lease_until
                message.attempts += 1
                claimed.append(message)
        return claimed

    def _deliver(self, message: OutboxMessage, now: datetime | None) -> None:
        try:
            self.senders[message.kind].send(message)
        except Deferred as exc:
            # not an attempt: hand it back for later, keeping the citizen's order
            self._record(message, status="pending", leased_until=None,
                         attempts=message.attempts - 1,
                         next_attempt_at=(now or utcnow()) + timedelta(seconds=exc.delay))
        except SendError as exc:
            self._failed(message, now, error=exc.reason, loggable=exc.reason, retry=exc.retryable)
        except Exception as exc:  # noqa: BLE001 - a bug in a sender must not lose the message
            # str(exc) may quote the payload (a phone number, a reply): neither the row nor the
            # log keeps it, only the exception's class.
            error = f"unexpected {type(exc).__name__}"
            self._failed(message, now, error=error, loggable=type(exc).__name__, retry=True)
        else:
            sent_at = now or utcnow()
            if self._record(message, status="sent", sent_at=sent_at, leased_until=None):
                log.info("outbox %s (%s) sent, attempt %s", message.id, message.kind,
                         message.attempts)

    def _failed(
        self, message: OutboxMessage, now: datetime | None, *, error: str, loggable: str,
        retry: bool,
    ) -> None:
        """Record a failed attempt: reschedule with backoff, or give up."""
        values: dict = {"last_error": error[:MAX_ERROR_CHARS], "leased_until": None}
        if retry and message.attempts < self.max_attempts:
            delay = timedelta(seconds=self.backoff(message.attempts))
            values.update(status="pending", next_attempt_at=(now or utcnow()) + delay)
            level, outcome = logging.WARNING, f"retry in {delay.total_seconds():.0f}s"
        else:
            values.update(status="dead")
            level, outcome = logging.ERROR, "dead" if retry else "dead (not retryable)"
        if self._record(message, **values):
            log.log(level, "outbox %s (%s) attempt %s failed, %s: %s", message.id,
                    message.kind, message.attempts, outcome, loggable)

    def _record(self, message: OutboxMessage, **values) -> bool:
        """Write the result if our lease still holds (``attempts`` fences a re-claimed row).

        A database error propagates: the rest of the batch stays leased and unsent, and is
        claimed again when the lease expires.
        """
        stmt = (
            update(OutboxMessage)
            .where(
                OutboxMessage.id == message.id,
                OutboxMessage.status == "sending",
                OutboxMessage.attempts == message.attempts,
            )
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        with self.database.session() as session:
            updated = session.execute(stmt).rowcount
        if not updated:
            log.warning("outbox %s (%s): lease lost, result not recorded", message.id,
                        message.kind)
        return bool(updated)

    def _release(self, messages: Sequence[OutboxMessage]) -> None:
        """Give leased, unsent messages back without counting an attempt."""
        for message in messages:
            self._record(message, status="pending", leased_until=None,
                         attempts=message.attempts - 1)

    def _run_periodic(self, now: datetime) -> None:
        if not self.periodic:
            return
        last = self._last_periodic
        if last is not None and 0 <= (now - last).total_seconds() < self.periodic_every:
            return
        self._last_periodic = now
        for task in self.periodic:
            try:
                with self.database.session() as session:
                    task(session, now)
            except Exception as exc:  # noqa: BLE001 - one failing task must not stop the rest
                name = getattr(task, "__qualname__", type(task).__name__)
                log.error("periodic task %s failed: %s", name, type(exc).__name__)


def webhook_secret(settings: Settings) -> bytes:
    """The key from which each department's webhook secret is derived (departments/webhooks)."""
    return settings.key("webhook")


def default_senders(settings: Settings, database: Database) -> dict[str, Sender]:
    """The senders of this deployment: SMTP email, signed webhooks, replies to citizens on the
    web, and on Zalo and Messenger when configured (channels/)."""
    from feedback_api.channels.wiring import senders_for

    # The assistant's turns (channel_message) are sent by the API processes' gateways, with
    # their short retries; officials' replies and notices on Zalo and Messenger go from here.
    _, reply_senders = senders_for(settings, database)
    senders: list[Sender] = [
        EmailSender(settings.smtp_host, settings.smtp_port, settings.smtp_sender),
        WebhookSender(department_secrets(database, webhook_secret(settings)),
                      allow_private=settings.webhook_allow_private),
        CitizenReplySender([WebChannelSender(database), *reply_senders]),
    ]
    return {sender.kind: sender for sender in senders}
