"""Is the background work alive and keeping up? The worker's heartbeat, and ``/readyz``.

``/healthz`` only says that an API process answers. The API keeps answering when the worker
process is dead or stuck, while nothing is routed, emailed or escalated; ``/readyz`` is what
notices. Every worker (the separate process, or the API's in-process threads) writes a row of
``worker_heartbeat`` every few seconds, and readiness reads three ages from the database:

- the newest heartbeat (is any worker alive?);
- the oldest item still ``new`` (is routing keeping up?);
- the oldest outbox message that is due and not taken by a worker (is delivery keeping up?).
  A message waiting for its retry time after a failed send does not count: a receiver being
  down is the outbox's business (it retries and, in the end, marks the row dead), not a reason
  to call the service unready.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import Integer, String, delete, func, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Mapped, Session, mapped_column

from feedback_api.channels.health import channel_health
from feedback_api.db import Base, Database, UTCDateTime, utcnow
from feedback_api.feedback.orm import FeedbackItem
from feedback_api.notify.orm import OutboxMessage
from feedback_api.settings import Settings

log = logging.getLogger(__name__)


class WorkerHeartbeat(Base):
    """One row per running worker, refreshed every ``heartbeat_interval`` seconds.

    Host and process id only: enough for an operator to find the process, nothing about anyone.
    """

    __tablename__ = "worker_heartbeat"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)  # "host:pid"
    host: Mapped[str] = mapped_column(String(200))
    pid: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    beat_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class Heartbeat:
    """Writes this process's heartbeat from a thread while ``alive()`` says the work runs.

    ``alive`` lets the owner tie the beat to its working threads: a worker whose routing thread
    died stops beating although the process still exists.
    """

    def __init__(
        self, database: Database, *, interval: float, alive: Callable[[], bool] = lambda: True
    ) -> None:
        self.database = database
        self.interval = interval
        self.alive = alive
        self.host = socket.gethostname()[:100]
        self.pid = os.getpid()
        self.name = f"{self.host}:{self.pid}"
        self.started_at = utcnow()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def beat(self, now: datetime | None = None) -> None:
        now = now or utcnow()
        with self.database.session() as session:
            stmt = (
                update(WorkerHeartbeat)
                .where(WorkerHeartbeat.name == self.name)
                .values(beat_at=now, started_at=self.started_at)
                .execution_options(synchronize_session=False)
            )
            if not session.execute(stmt).rowcount:
                session.add(WorkerHeartbeat(name=self.name, host=self.host, pid=self.pid,
                                            started_at=self.started_at, beat_at=now))

    def _run(self) -> None:
        while not self._stop.is_set():
            if self.alive():
                try:
                    self.beat()
                except Exception as exc:  # noqa: BLE001 - the database may come back
                    log.error("heartbeat failed: %s", type(exc).__name__)
            self._stop.wait(self.interval)

    def start(self) -> Heartbeat:
        self._thread = threading.Thread(target=self._run, name="caunoi-heartbeat", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop beating and remove this worker's row (a clean stop is not a dead worker)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        try:
            with self.database.session() as session:
                session.execute(delete(WorkerHeartbeat).where(WorkerHeartbeat.name == self.name))
        except SQLAlchemyError as exc:
            log.warning("heartbeat row not removed: %s", type(exc).__name__)


def _age(now: datetime, then: datetime | None) -> float | None:
    return None if then is None else round(max(0.0, (now - then).total_seconds()), 1)


def readiness(session: Session, settings: Settings, now: datetime | None = None) -> dict:
    """The three ages, and ``status`` "ok" or "unavailable" against the thresholds.

    Ages are in seconds, ``None`` when there is nothing to measure. ``detail`` (Vietnamese,
    for the operator) says why, only when unavailable.
    """
    now = now or utcnow()
    body: dict = {
        "status": "ok",
        "worker_heartbeat_age_s": None,
        "oldest_unrouted_age_s": None,
        "oldest_pending_outbox_age_s": None,
    }
    try:
        beat = session.scalar(select(func.max(WorkerHeartbeat.beat_at)))
        unrouted = session.scalar(
            select(func.min(FeedbackItem.created_at)).where(FeedbackItem.status == "new"))
        due = session.scalar(select(func.min(OutboxMessage.next_attempt_at)).where(
            OutboxMessage.status == "pending", OutboxMessage.next_attempt_at <= now))
        lapsed = session.scalar(select(func.min(OutboxMessage.leased_until)).where(
            OutboxMessage.status == "sending", OutboxMessage.leased_until <= now))
    except SQLAlchemyError as exc:
        log.error("readiness query failed: %s", type(exc).__name__)
        return {**body, "status": "unavailable", "detail": "Không kết nối được cơ sở dữ liệu."}
    waiting = min((t for t in (due, lapsed) if t is not None), default=None)
    body.update(worker_heartbeat_age_s=_age(now, beat), oldest_unrouted_age_s=_age(now, unrouted),
                oldest_pending_outbox_age_s=_age(now, waiting))
    problems = _problems(body, settings)
    try:
        body["channels"] = channel_health(session, settings, now)
    except SQLAlchemyError as exc:
        log.error("channel health query failed: %s", type(exc).__name__)
        body["channels"] = None
    for platform, entry in (body["channels"] or {}).items():
        age = entry["oldest_pending_event_age_s"]
        if entry["on"] and age is not None and age > settings.readiness_backlog_seconds:
            problems.append(f"Có tin nhắn {platform} chờ trợ lý trả lời đã {age / 60:.0f} phút.")
    if problems:
        body.update(status="unavailable", detail=" ".join(problems))
    return body


def _problems(body: dict, settings: Settings) -> list[str]:
    problems = []
    beat_age, beat_max = body["worker_heartbeat_age_s"], settings.readiness_heartbeat_seconds
    if beat_age is None:
        problems.append("Chưa có bộ xử lý nền nào báo đang chạy.")
    elif beat_age > beat_max:
        problems.append(f"Bộ xử lý nền không báo hoạt động đã {beat_age:.0f} giây "
                        f"(ngưỡng {beat_max:.0f} giây).")
    backlog_max = settings.readiness_backlog_seconds
    unrouted, outbox = body["oldest_unrouted_age_s"], body["oldest_pending_outbox_age_s"]
    if unrouted is not None and unrouted > backlog_max:
        problems.append(f"Có phản ánh chờ phân loại đã {unrouted / 60:.0f} phút "
                        f"(ngưỡng {backlog_max / 60:.0f} phút).")
    if outbox is not None and outbox > backlog_max:
        problems.append(f"Có thư/tin nhắn đến hạn gửi mà chưa được gửi đã {outbox / 60:.0f} phút "
                        f"(ngưỡng {backlog_max / 60:.0f} phút).")
    return problems
