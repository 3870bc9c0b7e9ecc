"""Background work of the service: routing new items, escalating overdue ones, and draining
the outbox. Runs in threads of the API process by default, or alone (``python -m feedback_api
worker``) in production, where several workers share the load through SKIP LOCKED.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime

from sqlalchemy.orm import Session

from feedback_api.db import Database
from feedback_api.feedback import flows
from feedback_api.notify.worker import Worker, default_senders
from feedback_api.settings import Settings

log = logging.getLogger("feedback_api.worker")
ROUTING_BATCH = 32


class Background:
    """The routing loop (woken by each intake) plus the outbox worker."""

    def __init__(
        self,
        database: Database,
        settings: Settings,
        *,
        router: Callable[[], object],
        cited_departments: Callable[[list[dict]], list[str]],
    ) -> None:
        self.database = database
        self.settings = settings
        self.router = router
        self.cited_departments = cited_departments
        self.outbox = Worker(
            database,
            default_senders(settings, database),
            periodic=[self.escalate],
            periodic_every=60.0,
        )
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def escalate(self, session: Session, now: datetime) -> int:
        return flows.escalate_overdue(session, now, public_url=self.settings.public_url)

    def route_all(self) -> int:
        """Route every item still ``new``; returns how many."""
        total = 0
        while not self._stop.is_set():
            with self.database.session() as session:
                n = flows.route_pending(
                    session,
                    router=self.router(),
                    cited_departments=self.cited_departments,
                    public_url=self.settings.public_url,
                    limit=ROUTING_BATCH,
                )
            total += n
            if n < ROUTING_BATCH:
                break
        return total

    def _route_loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.settings.worker_interval * 4)
            self._wake.clear()
            try:
                self.route_all()
            except Exception as exc:  # noqa: BLE001 - keep serving; the DB may come back
                log.error("routing pass failed: %s", type(exc).__name__)
                self._stop.wait(1.0)

    def start(self) -> Background:
        thread, stop = self.outbox.start_in_thread(self.settings.worker_interval)
        self._outbox_stop = stop
        router = threading.Thread(target=self._route_loop, name="caunoi-routing", daemon=True)
        router.start()
        self._threads = [thread, router]
        return self

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._outbox_stop.set()
        for thread in self._threads:
            thread.join(timeout=10)


def start_worker(app) -> Background:
    state = app.state
    return Background(
        state.db, state.settings, router=state.router, cited_departments=state.cited_departments
    ).start()
