"""Supervision and readiness (issue 19, defect 8): ``serve`` restarts a dead worker, the worker
writes a heartbeat, and ``/readyz`` fails while no worker is alive or work waits too long.

The end-to-end test runs the real ``python -m feedback_api serve`` on SQLite and PostgreSQL,
SIGKILLs its worker process and sees readiness fail, a new worker start and an item submitted
after the kill get routed. Everything waits on conditions with deadlines.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import delete, select

from tests.feedback_api.server import api_with_tokens, service_env

FAR_PAST = datetime(2000, 1, 1, tzinfo=UTC)


def wait_until(condition, timeout: float, what: str, every: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"{what}: not within {timeout:.0f} s")


def children(parent: int) -> list[int]:
    """Live (not zombie) child processes of ``parent``, read from /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        state, ppid = stat.rsplit(")", 1)[1].split()[:2]
        if int(ppid) == parent and state not in ("Z", "X"):
            found.append(int(entry.name))
    return found


# --- the supervisor's backoff, with real (short-lived) child processes ---


def test_supervisor_restarts_with_doubling_delays_reset_after_a_stable_run():
    from feedback_api.worker import WorkerSupervisor

    lifetimes = iter([0, 0, 0, 0, 2.5, 0])  # seconds each started "worker" lives
    spawned: list[float] = []

    def spawn():
        spawned.append(time.monotonic())
        seconds = next(lifetimes, 60)
        return subprocess.Popen(["sh", "-c", f"sleep {seconds}; exit 3"])

    supervisor = WorkerSupervisor(spawn, first_delay=0.05, max_delay=0.2, stable_after=2.0,
                                  poll=0.02)
    supervisor.start()
    try:
        wait_until(lambda: len(spawned) >= 7, 30, "seven starts")
    finally:
        supervisor.stop(timeout=5)
    # dying at once: 0.05, 0.1, 0.2, then capped at 0.2; after 2.5 s of running, back to 0.05
    assert supervisor.delays[:6] == [0.05, 0.1, 0.2, 0.2, 0.05, 0.1]
    gaps = [b - a for a, b in zip(spawned, spawned[1:], strict=False)]
    assert all(gap >= delay for gap, delay in zip(gaps, supervisor.delays, strict=False))
    assert supervisor.restarts >= 6


def test_stopping_the_supervisor_ends_its_worker_and_starts_no_other():
    from feedback_api.worker import WorkerSupervisor

    procs: list[subprocess.Popen] = []

    def spawn():
        procs.append(subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"]))
        return procs[-1]

    supervisor = WorkerSupervisor(spawn, first_delay=0.05, poll=0.02).start()
    supervisor.stop(timeout=5)
    assert len(procs) == 1 and procs[0].poll() is not None


# --- readiness, computed from the database ---


def test_readiness_follows_the_newest_heartbeat(database):
    from feedback_api.health import Heartbeat, WorkerHeartbeat, readiness
    from feedback_api.settings import Settings

    settings = Settings(load_search=False, readiness_heartbeat_seconds=60)
    beat_at = datetime.now(UTC) + timedelta(days=1)  # newer than any other worker's row
    heartbeat = Heartbeat(database, interval=1.0)
    heartbeat.beat(now=beat_at)
    try:
        with database.session() as session:
            row = session.scalar(select(WorkerHeartbeat).where(
                WorkerHeartbeat.name == heartbeat.name))
            assert row.pid == os.getpid() and row.host
            fresh = readiness(session, settings, now=beat_at + timedelta(seconds=10))
            stale = readiness(session, settings, now=beat_at + timedelta(seconds=90))
        assert fresh["worker_heartbeat_age_s"] == 10.0
        assert "Bộ xử lý nền" not in fresh.get("detail", "")
        assert stale["status"] == "unavailable" and stale["worker_heartbeat_age_s"] == 90.0
        assert "Bộ xử lý nền không báo hoạt động đã 90 giây" in stale["detail"]
    finally:
        heartbeat.stop()  # removes its row
    with database.session() as session:
        assert session.scalar(select(WorkerHeartbeat).where(
            WorkerHeartbeat.name == heartbeat.name)) is None


def test_readiness_fails_on_an_old_unrouted_item_or_a_due_outbox_message(database):
    from feedback_api.feedback.orm import FeedbackItem
    from feedback_api.health import readiness
    from feedback_api.notify.orm import OutboxMessage
    from feedback_api.settings import Settings

    settings = Settings(load_search=False, readiness_backlog_seconds=900)
    tag = uuid.uuid4().hex[:8]
    # Rows from the year 2000 are older than any other test's, and "now" is set just after
    # them, so the ages below are theirs alone.
    item = FeedbackItem(tracking_code=f"PA-T{tag[:6].upper()}", idempotency_key=f"ready-{tag}",
                        kind="complaint", text="Đường hỏng.", channel="web", status="new",
                        due_at=FAR_PAST, created_at=FAR_PAST, updated_at=FAR_PAST)
    waiting = OutboxMessage(kind="email", dedupe_key=f"ready-{tag}", payload={},
                            status="pending", next_attempt_at=FAR_PAST + timedelta(minutes=5),
                            created_at=FAR_PAST)
    later = OutboxMessage(kind="email", dedupe_key=f"ready-later-{tag}", payload={},
                          status="pending", next_attempt_at=FAR_PAST + timedelta(hours=2),
                          created_at=FAR_PAST)  # waits for its retry time: not counted
    with database.session() as session:
        session.add_all([item, waiting, later])
    try:
        with database.session() as session:
            early = readiness(session, settings, now=FAR_PAST + timedelta(minutes=10))
            late = readiness(session, settings, now=FAR_PAST + timedelta(minutes=30))
        assert early["oldest_unrouted_age_s"] == 600.0
        assert early["oldest_pending_outbox_age_s"] == 300.0
        assert "phản ánh chờ phân loại" not in early.get("detail", "")
        assert late["status"] == "unavailable"
        assert late["oldest_unrouted_age_s"] == 1800.0
        assert late["oldest_pending_outbox_age_s"] == 1500.0
        assert "Có phản ánh chờ phân loại đã 30 phút (ngưỡng 15 phút)." in late["detail"]
        assert "chưa được gửi đã 25 phút" in late["detail"]
    finally:
        with database.session() as session:
            session.execute(delete(FeedbackItem).where(FeedbackItem.id == item.id))
            session.execute(delete(OutboxMessage).where(
                OutboxMessage.id.in_([waiting.id, later.id])))


def test_an_api_running_its_worker_in_process_beats_and_is_ready(database, db_url, model_dir,
                                                                 smtp):
    """``create_app`` with run_worker on (as in ``uvicorn feedback_api.main:create_app``): the
    heartbeat comes from the API's own worker threads, and a clean stop removes it."""
    import threading
    import urllib.request

    import uvicorn

    from feedback_api.health import WorkerHeartbeat
    from feedback_api.main import create_app
    from feedback_api.settings import Settings
    from tests.feedback_api.conftest import free_port

    settings = Settings(database_url=db_url, model_dir=model_dir, load_search=False,
                        run_worker=True, migrate_on_start=False, smtp_port=smtp.port,
                        heartbeat_interval=0.2)
    port = free_port()
    app = create_app(settings)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    name = f"{socket_host()}:{os.getpid()}"
    try:
        wait_until(lambda: server.started, 120, "in-process API started")

        def ready():
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=10):
                    return True
            except OSError:
                return False

        wait_until(ready, 60, "ready with the in-process worker")
        with database.session() as session:
            assert session.scalar(select(WorkerHeartbeat).where(WorkerHeartbeat.name == name))
        # let the classifier's warm-up thread finish: the encoder must not be running in a
        # daemon thread when the interpreter exits
        app.state.services.classifier.current()
    finally:
        server.should_exit = True
        thread.join(timeout=60)
    with database.session() as session:
        assert session.scalar(select(WorkerHeartbeat).where(WorkerHeartbeat.name == name)) is None


def socket_host() -> str:
    import socket

    return socket.gethostname()[:100]


# --- the real service: kill its worker ---


@pytest.fixture(scope="module")
def api(db_url, database, model_dir, smtp):
    env = service_env(
        db_url, model_dir, smtp.port,
        CAUNOI_HEARTBEAT_INTERVAL="0.25",
        CAUNOI_READINESS_HEARTBEAT_SECONDS="1.5",
        # other modules' leftovers in the shared database must not decide this test
        CAUNOI_READINESS_BACKLOG_SECONDS="86400",
    )
    server = api_with_tokens(env, "supervision", "service")
    yield server
    server.stop()


def submit(api, text: str) -> str:
    body = {"kind": "complaint", "channel": "web", "sender_id": f"sup-{uuid.uuid4().hex}",
            "idempotency_key": f"sup-{uuid.uuid4().hex}", "text": text}
    status, created = api.request("POST", "/api/v1/feedback", body, token=api.tokens["service"])
    assert status == 201, created
    return created["tracking_code"]


def status_of(database, code: str) -> str:
    from feedback_api.feedback.orm import FeedbackItem

    with database.session() as session:
        return session.scalar(select(FeedbackItem.status).where(
            FeedbackItem.tracking_code == code))


def test_a_killed_worker_is_restarted_and_routing_resumes(api, database):
    before = submit(api, "Đèn đường ở tổ 5 phường Cốc Lếu bị hỏng cả tháng nay.")
    wait_until(lambda: status_of(database, before) != "new", 180, "routing before the kill",
               every=0.2)
    worker = wait_until(lambda: children(api.proc.pid), 30, "the worker process")
    assert len(worker) == 1, worker
    os.kill(worker[0], signal.SIGKILL)

    after = submit(api, "Nước sinh hoạt ở thôn Làng Mới bị đục, có mùi lạ từ hôm qua.")
    seen: dict[int, dict] = {}

    def routed_again():
        status, body = api.request("GET", "/readyz")
        seen.setdefault(status, body)
        return status_of(database, after) != "new"

    wait_until(routed_again, 180, "routing after the worker was killed")
    # the API noticed: readiness failed while no worker beat, with the reason in Vietnamese
    assert 503 in seen, seen
    down = seen[503]
    assert down["status"] == "unavailable" and down["worker_heartbeat_age_s"] > 1.5
    assert "Bộ xử lý nền" in down["detail"]
    # a new worker runs, beats, and readiness is back
    new = children(api.proc.pid)
    assert len(new) == 1 and new[0] != worker[0]
    status, body = wait_until(lambda: (r := api.request("GET", "/readyz"))[0] == 200 and r,
                              60, "ready again")
    assert body["worker_heartbeat_age_s"] <= 1.5 and "detail" not in body
    from feedback_api.health import WorkerHeartbeat

    with database.session() as session:
        pids = set(session.scalars(select(WorkerHeartbeat.pid)))
    assert new[0] in pids
    # the restart is logged, without what the citizen wrote
    log = api.output()
    assert "exited with code -9" in log and "restarting in 1 s" in log
    assert "Làng Mới" not in log and "Cốc Lếu" not in log and "sup-" not in log  # sender ids


def test_readyz_reports_the_three_ages_outside_the_schema_and_healthz_stays_liveness(api):
    status, body = wait_until(lambda: (r := api.request("GET", "/readyz"))[0] == 200 and r,
                              60, "ready")
    assert body["status"] == "ok"
    assert {"worker_heartbeat_age_s", "oldest_unrouted_age_s",
            "oldest_pending_outbox_age_s"} <= set(body)
    status, schema = api.request("GET", "/openapi.json")
    assert status == 200 and "/readyz" not in schema["paths"]
    assert api.request("GET", "/healthz") == (200, {"status": "ok"})


def test_every_long_running_compose_service_restarts_and_the_worker_checks_readiness():
    import yaml

    from tests.conftest import REPO

    services = yaml.safe_load((REPO / "docker-compose.yml").read_text())["services"]
    for name, service in services.items():
        expected = "no" if name == "rasa-train" else "unless-stopped"
        assert service.get("restart") == expected, name
        assert service["logging"]["options"]["max-size"] == "10m", name  # rotated
    assert "/readyz" in " ".join(services["worker"]["healthcheck"]["test"])
    # the API's own check stays liveness: the worker (which makes it ready) waits for it
    assert "/healthz" in " ".join(services["api"]["healthcheck"]["test"])
