"""Background work of the service: routing new items, escalating overdue ones, draining the
outbox and applying retention. Runs in threads of the API process by default, or alone
(``python -m feedback_api worker``) in production, where several workers share the load
through SKIP LOCKED. Every worker writes a heartbeat (health.py) that ``/readyz`` reads.

``serve`` starts the worker as a child process and keeps it running (``WorkerSupervisor``):
a worker that dies is started again, after 1, 2, 4 … up to 60 seconds.

It lives at the top of the package, beside main.py, because it spans three domains: the
department classifier (departments/), the lifecycle flows (feedback/) and the outbox
(notify/). Inside any one of them it would make that domain import the other two.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from feedback_api.db import Database
from feedback_api.departments.classifier import ClassifierHolder, cited_departments_fn
from feedback_api.departments.orm import Department
from feedback_api.feedback import flows
from feedback_api.health import Heartbeat
from feedback_api.notify.worker import Worker, default_senders
from feedback_api.retention import Retention
from feedback_api.settings import Settings

log = logging.getLogger("feedback_api.worker")
ROUTING_BATCH = 32
ROUTING_NICE = 10
PR_SET_PDEATHSIG = 1
STOP_POLL_SECONDS = 0.2


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
            periodic=[self.escalate, *Retention(settings).tasks],
            periodic_every=60.0,
        )
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._departments_version = None
        # Beats only while the routing and outbox threads run.
        self.heartbeat = Heartbeat(database, interval=settings.heartbeat_interval,
                                   alive=lambda: all(t.is_alive() for t in self._threads))

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
        self.heartbeat.start()
        return self

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._outbox_stop.set()
        for thread in self._threads:
            thread.join(timeout=10)
        self.heartbeat.stop()


def run_worker_process(*, parent: int | None = None) -> int:
    """``python -m feedback_api worker``: routing, escalation and the outbox until SIGTERM.

    ``parent`` is the pid of the ``serve`` process that started us (spawn_worker_process): we
    lower our priority and ask Linux to SIGTERM us when it dies, here rather than in a
    ``preexec_fn``, which is unsafe in a parent running threads (the supervisor restarts us
    while the API serves).
    """
    import signal

    from feedback_api.migrate import migrate_and_seed

    if parent is not None:
        _follow_parent(parent)
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
    # The handler only records the signal: calling Event.set() from it deadlocks when a second
    # signal arrives while the first handler holds the event's lock (PDEATHSIG's SIGTERM and
    # an operator's, say); the main thread notices within STOP_POLL_SECONDS.
    signals: list[int] = []
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda number, _frame: signals.append(number))
    background.start()
    log.info("worker ready")
    while not signals:
        time.sleep(STOP_POLL_SECONDS)
    background.stop()
    database.dispose()
    return 0


def _follow_parent(parent: int) -> None:
    """Nice ourselves, and die with ``parent`` even if it is SIGKILLed (Linux)."""
    import signal

    try:
        os.nice(ROUTING_NICE)
    except OSError:
        pass
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:  # it died before prctl took effect
        raise SystemExit(0)


def spawn_worker_process():
    """Start the worker as a child process that dies with this one."""
    import subprocess
    import sys

    code = ("import sys; from feedback_api.worker import run_worker_process; "
            f"sys.exit(run_worker_process(parent={os.getpid()}))")
    return subprocess.Popen([sys.executable, "-c", code])


class WorkerSupervisor:
    """Keeps one worker child running for ``serve``: restarts it with backoff when it dies.

    The delay doubles from ``first_delay`` up to ``max_delay`` while the worker keeps dying
    soon after its start, and falls back to ``first_delay`` once a worker has run for
    ``stable_after`` seconds. Each restart is logged with the exit code and nothing else.
    """

    def __init__(
        self,
        spawn=spawn_worker_process,
        *,
        first_delay: float = 1.0,
        max_delay: float = 60.0,
        stable_after: float = 120.0,
        poll: float = 0.5,
    ) -> None:
        self.spawn = spawn
        self.first_delay, self.max_delay = first_delay, max_delay
        self.stable_after, self.poll = stable_after, poll
        self.restarts = 0
        self.delays: list[float] = []  # each restart's delay, in order (tests, diagnostics)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._proc = None
        self._thread: threading.Thread | None = None

    def start(self) -> WorkerSupervisor:
        # Linux sends the parent-death signal when the spawning *thread* ends: the first worker
        # comes from the caller (serve's main thread), restarts from the watching thread; both
        # live as long as the supervision.
        self._proc = self.spawn()
        self._thread = threading.Thread(target=self._watch, name="caunoi-supervisor",
                                        daemon=True)
        self._thread.start()
        return self

    def _watch(self) -> None:
        import time

        delay = self.first_delay
        started = time.monotonic()
        while not self._stop.wait(self.poll):
            code = self._proc.poll()
            if code is None:
                continue
            ran = time.monotonic() - started
            if ran >= self.stable_after:
                delay = self.first_delay
            self.delays.append(delay)
            log.warning("worker process %s exited with code %s after %.0f s; restarting in "
                        "%.0f s", self._proc.pid, code, ran, delay)
            if self._stop.wait(delay):
                return
            with self._lock:
                if self._stop.is_set():
                    return
                try:
                    self._proc = self.spawn()
                except OSError as exc:
                    log.error("worker process not started: %s", type(exc).__name__)
                    delay = min(delay * 2, self.max_delay)
                    continue
                self.restarts += 1
            log.warning("worker process restarted (pid %s, restart %s)", self._proc.pid,
                        self.restarts)
            started = time.monotonic()
            delay = min(delay * 2, self.max_delay)

    def stop(self, timeout: float = 15.0) -> None:
        """Stop watching, then end the worker: SIGTERM, and SIGKILL after ``timeout``."""
        import subprocess

        with self._lock:
            self._stop.set()
            proc = self._proc
        if self._thread is not None:
            self._thread.join(timeout=self.poll + 1)
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
