"""Background work of the service: routing new items, escalating overdue ones, and draining
the outbox. Runs in threads of the API process by default, or alone (``python -m feedback_api
worker``) in production, where several workers share the load through SKIP LOCKED.

It lives at the top of the package, beside main.py, because it spans three domains: the
department classifier (departments/), the lifecycle flows (feedback/) and the outbox
(notify/). Inside any one of them it would make that domain import the other two.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from feedback_api.db import Database
from feedback_api.departments.classifier import ClassifierHolder, cited_departments_fn
from feedback_api.departments.orm import Department
from feedback_api.feedback import flows
from feedback_api.notify.worker import Worker, default_senders
from feedback_api.settings import Settings

log = logging.getLogger("feedback_api.worker")
ROUTING_BATCH = 32
ROUTING_NICE = 10


class Background:
    """The routing loop (woken by each intake) plus the outbox worker."""

    def __init__(
        self,
        database: Database,
        settings: Settings,
        *,
        classifier: ClassifierHolder,
        cited_departments: Callable[[list[dict]], list[str]],
    ) -> None:
        self.database = database
        self.settings = settings
        self.classifier = classifier
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
        self._departments_version = None

    def escalate(self, session: Session, now: datetime) -> int:
        return flows.escalate_overdue(session, now, public_url=self.settings.public_url)

    def _refresh_if_departments_changed(self) -> None:
        """Admins edit mandates in the API process; this process's classifier must follow."""
        with self.database.session() as session:
            version = session.scalar(select(func.max(Department.updated_at)))
        if self._departments_version is not None and version != self._departments_version:
            self.classifier.refresh()
        self._departments_version = version

    def route_all(self) -> int:
        """Route every item still ``new``; returns how many."""
        self._refresh_if_departments_changed()
        total = 0
        while not self._stop.is_set():
            n = flows.route_pending(
                self.database,
                classifier=self.classifier.current(),
                cited_departments=self.cited_departments,
                public_url=self.settings.public_url,
                limit=ROUTING_BATCH,
            )
            total += n
            if n < ROUTING_BATCH:
                break
        return total

    def _route_loop(self) -> None:
        # Routing may lag; intake must not. On Linux a thread is a task with its own nice
        # value, so the encoder yields the cores to request handling under load.
        try:
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), ROUTING_NICE)
        except (AttributeError, OSError):
            pass
        while not self._stop.is_set():
            self._wake.wait(self.settings.worker_interval)
            self._wake.clear()
            try:
                self.route_all()
            except Exception as exc:  # noqa: BLE001 - keep serving; the DB may come back
                log.error("routing pass failed: %s", type(exc).__name__)
                self._stop.wait(1.0)

    def start(self) -> Background:
        thread, stop = self.outbox.start_in_thread(self.settings.worker_interval)
        self._outbox_stop = stop
        routing = threading.Thread(target=self._route_loop, name="caunoi-routing", daemon=True)
        routing.start()
        self._threads = [thread, routing]
        return self

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._outbox_stop.set()
        for thread in self._threads:
            thread.join(timeout=10)


def run_worker_process() -> int:
    """``python -m feedback_api worker``: routing, escalation and the outbox until SIGTERM."""
    import signal

    from feedback_api.migrate import migrate_and_seed

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    settings = Settings(run_worker=True)
    if settings.migrate_on_start:
        migrate_and_seed(settings.database_url)
    database = Database(settings.database_url)
    searcher = None
    if settings.load_search and (settings.index_dir / "manifest.json").exists():
        from knowledge import Searcher

        searcher = Searcher(settings.index_dir, model_dir=settings.model_dir)
    classifier = ClassifierHolder(database, searcher=searcher, model_dir=settings.model_dir)
    background = Background(
        database, settings, classifier=classifier, cited_departments=cited_departments_fn(searcher)
    )
    classifier.current()  # build it before taking work (until then SIGTERM simply ends us)
    stopped = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopped.set())
    background.start()
    log.info("worker ready")
    stopped.wait()
    background.stop()
    database.dispose()
    return 0


def spawn_worker_process():
    """Start ``python -m feedback_api worker`` as a child that dies with its parent."""
    import signal
    import subprocess
    import sys

    def _child() -> None:
        os.nice(ROUTING_NICE)
        try:  # Linux: SIGTERM the worker if the API process dies, even by SIGKILL
            import ctypes

            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)
        except (OSError, AttributeError):
            pass

    return subprocess.Popen(
        [sys.executable, "-m", "feedback_api", "worker"], preexec_fn=_child
    )
