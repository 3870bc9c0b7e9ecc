"""Retention (issue 19, defect 10): the worker deletes what is past its retention and keeps
what is younger, on SQLite and PostgreSQL. Ages are set in the database; nothing sleeps."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import delete, select

from feedback_api.auth.orm import AuditEntry
from feedback_api.db import utcnow
from feedback_api.health import WorkerHeartbeat
from feedback_api.notify.orm import CitizenMessage, OutboxMessage
from feedback_api.settings import Settings

PHONE = "0912345678"


@pytest.fixture
def tag() -> str:
    return uuid.uuid4().hex[:10]


def days_ago(now, days: float):
    return now - timedelta(days=days)


def outbox(tag: str, name: str, *, status: str, created_at, sent_at=None) -> OutboxMessage:
    return OutboxMessage(
        kind="retention-test",  # no worker has a sender for it: nothing else touches the rows
        dedupe_key=f"{tag}-{name}", status=status, created_at=created_at, sent_at=sent_at,
        next_attempt_at=created_at + timedelta(days=3650),
        payload={"to": "lan@example.vn", "text": f"Gọi lại số {PHONE}"},
        last_error="550 rejected" if status == "dead" else None,
    )


@pytest.fixture
def rows(database, tag):
    """One row just past and one just inside each retention (the defaults), removed after."""
    now = utcnow()
    made = {
        "sent_old": outbox(tag, "sent-old", status="sent", created_at=days_ago(now, 40),
                           sent_at=days_ago(now, 31)),
        "sent_young": outbox(tag, "sent-young", status="sent", created_at=days_ago(now, 40),
                             sent_at=days_ago(now, 29)),
        "pending_old": outbox(tag, "pending-old", status="pending", created_at=days_ago(now, 400)),
        "dead_old": outbox(tag, "dead-old", status="dead", created_at=days_ago(now, 31)),
        "dead_young": outbox(tag, "dead-young", status="dead", created_at=days_ago(now, 29)),
        "reply_old": CitizenMessage(channel="web", sender_id=f"web-{tag}-old", text="Trả lời cũ",
                                    outbox_id=-int(tag[:7], 16) - 1,
                                    created_at=days_ago(now, 181)),
        "reply_young": CitizenMessage(channel="web", sender_id=f"web-{tag}-young",
                                      text="Trả lời mới", outbox_id=-int(tag[:7], 16) - 2,
                                      created_at=days_ago(now, 179)),
        "audit_old": AuditEntry(actor=f"admin-{tag}", action="user.create", target="old",
                                at=days_ago(now, 366)),
        "audit_young": AuditEntry(actor=f"admin-{tag}", action="user.create", target="young",
                                  at=days_ago(now, 364)),
        "heartbeat_old": WorkerHeartbeat(name=f"gone-{tag}", host="gone", pid=1,
                                         started_at=days_ago(now, 3), beat_at=days_ago(now, 2)),
    }
    with database.session() as session:
        session.add_all(made.values())
    yield now, made
    with database.session() as session:
        for row in made.values():
            session.execute(delete(type(row)).where(type(row).id == row.id))


def present(database, row) -> bool:
    with database.session() as session:
        return session.get(type(row), row.id) is not None


def test_the_worker_deletes_rows_past_their_retention_and_keeps_younger_ones(database, rows):
    from feedback_api.notify.worker import Worker
    from feedback_api.retention import BLANKED, Retention

    now, made = rows
    # the worker's own loop: periodic tasks, each in its own session
    Worker(database, {}, periodic=Retention(Settings(load_search=False)).tasks).run_once(now)

    gone = {"sent_old", "reply_old", "audit_old", "heartbeat_old"}
    for name, row in made.items():
        assert present(database, row) == (name not in gone), name
    with database.session() as session:
        dead_old = session.get(OutboxMessage, made["dead_old"].id)
        dead_young = session.get(OutboxMessage, made["dead_young"].id)
        pending = session.get(OutboxMessage, made["pending_old"].id)
    assert dead_old.payload == {} and dead_old.last_error == BLANKED
    assert dead_old.status == "dead"  # the record that a message was lost stays
    assert PHONE in json.dumps(dead_young.payload) and dead_young.last_error == "550 rejected"
    assert PHONE in json.dumps(pending.payload)  # still to be delivered: never touched


def test_zero_days_keeps_forever_and_a_second_pass_changes_nothing(database, rows):
    from feedback_api.retention import prune_tables

    now, made = rows
    forever = Settings(load_search=False, retention_sent_outbox_days=0,
                       retention_dead_outbox_days=0, retention_citizen_message_days=0,
                       retention_audit_days=0, retention_channel_days=0)
    with database.session() as session:
        done = prune_tables(session, forever, now)
    assert set(done) == {"worker_heartbeat"}
    assert all(present(database, row) for name, row in made.items() if name != "heartbeat_old")

    defaults = Settings(load_search=False)
    with database.session() as session:
        first = prune_tables(session, defaults, now)
    with database.session() as session:
        again = prune_tables(session, defaults, now)
    assert first["outbox_sent"] >= 1 and first["outbox_dead_blanked"] >= 1
    assert again["outbox_sent"] == again["outbox_dead_blanked"] == again["citizen_message"] == 0


def test_retention_runs_at_most_once_an_hour(database):
    from feedback_api.retention import Retention

    retention = Retention(Settings(load_search=False))
    now = utcnow()
    with database.session() as session:
        assert retention.tables(session, now) is not None
        assert retention.tables(session, now + timedelta(minutes=59)) is None
        assert retention.tables(session, now + timedelta(minutes=61)) is not None


def test_background_work_includes_retention(database):
    from feedback_api.retention import Retention
    from feedback_api.worker import Background

    background = Background(database, Settings(load_search=False), classifier=None,
                            cited_departments=lambda cited: [])
    owners = {type(getattr(task, "__self__", None)) for task in background.outbox.periodic}
    assert Retention in owners


# --- Rasa's tracker store (feedback_api.privacy.tracker), on the backend under test ---


@pytest.fixture
def tracker_url(db_url, tmp_path):
    """An empty tracker database with Rasa's ``events`` table, on the same kind of backend."""
    from sqlalchemy import create_engine

    from feedback_api.privacy.tracker import events
    from tests.feedback_api.conftest import PG_ADMIN_URL, fresh_pg_database

    if db_url.startswith("sqlite"):
        url = f"sqlite:///{tmp_path / 'tracker.db'}"
        engine = create_engine(url)
        events.metadata.create_all(engine)
        engine.dispose()
        yield url
        return
    with fresh_pg_database("caunoi_tracker") as name:
        url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
        engine = create_engine(url)
        events.metadata.create_all(engine)
        engine.dispose()
        yield url


def test_tracker_conversations_past_their_retention_are_deleted(database, tracker_url):
    from sqlalchemy import create_engine

    from feedback_api.privacy.tracker import events
    from feedback_api.retention import Retention

    now = utcnow()
    said = json.dumps({"event": "user", "text": f"số của tôi là {PHONE}",
                       "input_channel": "rest"})
    conversations = {  # sender: ages in days of its events
        "old": [120, 95, 91],
        "active": [120, 95, 10],  # began long ago, went on recently: kept whole
        "young": [5],
    }
    engine = create_engine(tracker_url)
    with engine.begin() as conn:
        for sender, ages in conversations.items():
            for age in ages:
                conn.execute(events.insert().values(
                    sender_id=sender, type_name="user",
                    timestamp=days_ago(now, age).timestamp(), data=said))
    settings = Settings(load_search=False, tracker_store_url=tracker_url)
    with database.session() as session:
        assert Retention(settings).tracker(session, now) == 1
    with engine.connect() as conn:
        left = sorted(conn.execute(select(events.c.sender_id)).scalars())
    engine.dispose()
    assert left == ["active"] * 3 + ["young"]


def test_no_tracker_configured_is_skipped(database):
    from feedback_api.retention import Retention

    with database.session() as session:
        assert Retention(Settings(load_search=False, tracker_store_url=None)).tracker(
            session, utcnow()) is None


# --- logs: what scripts/stack.py writes under var/log is rotated by size ---


def test_a_services_log_is_rotated_by_size_and_keeps_five_old_files(tmp_path):
    import sys

    from scripts.stack import LOG_BACKUPS, Service

    talk = "import sys\nfor i in range(400): print(f'dòng {i:04d} ' + 'x' * 90, flush=True)"
    log = tmp_path / "log" / "talker.log"
    service = Service("talker", [sys.executable, "-c", talk], cwd=tmp_path, env={},
                      health="http://127.0.0.1:9/", log_path=log, log_max_bytes=4000)
    service.proc.wait(timeout=60)
    service.stop()
    files = sorted(log.parent.iterdir())
    assert [f.name for f in files] == ["talker.log"] + [
        f"talker.log.{n}" for n in range(1, LOG_BACKUPS + 1)]
    assert all(f.stat().st_size <= 4000 for f in files)
    assert log.read_text(encoding="utf-8").splitlines()[-1].startswith("dòng 0399 ")
    assert service.log_tail(1).startswith("dòng 0399 ")


def test_handled_channel_events_and_silent_citizens_go_pending_events_stay(database):
    from feedback_api.channels.orm import ChannelEvent, ChannelUser
    from feedback_api.retention import prune_tables

    now, tag = utcnow(), uuid.uuid4().hex[:8]

    def event(key: str, status: str, days: int) -> ChannelEvent:
        return ChannelEvent(platform="zalo", event_key=f"{tag}-{key}", user_id=f"u-{tag}",
                            body={"kind": "text", "text": PHONE}, status=status,
                            received_at=days_ago(now, days), next_attempt_at=now)

    old_done, old_pending, young_done = (event("a", "done", 31), event("b", "pending", 31),
                                         event("c", "done", 29))
    silent = ChannelUser(platform="zalo", user_id=f"silent-{tag}",
                         last_inbound_at=days_ago(now, 31), choices={}, pending_attachments=[])
    active = ChannelUser(platform="zalo", user_id=f"active-{tag}",
                         last_inbound_at=days_ago(now, 1), choices={}, pending_attachments=[])
    with database.session() as session:
        session.add_all([old_done, old_pending, young_done, silent, active])
    with database.session() as session:
        prune_tables(session, Settings(load_search=False), now)
    with database.session() as session:
        keys = set(session.scalars(select(ChannelEvent.event_key).where(
            ChannelEvent.user_id == f"u-{tag}")))
        users = set(session.scalars(select(ChannelUser.user_id).where(
            ChannelUser.user_id.in_([f"silent-{tag}", f"active-{tag}"]))))
    assert keys == {f"{tag}-b", f"{tag}-c"}  # a pending event is never dropped
    assert users == {f"active-{tag}"}
