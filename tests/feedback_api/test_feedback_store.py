"""Lifecycle, service levels, tracking codes and escalation, on the store itself."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import pytest

from feedback_api.departments.codes import CENTRAL
from feedback_api.errors import IllegalTransition
from feedback_api.feedback import codes, lifecycle
from feedback_api.feedback.calendar import WorkCalendar
from feedback_api.feedback.service import normalize_location


def test_lifecycle_allows_only_the_designed_moves():
    assert lifecycle.allowed("new", "routed")
    assert lifecycle.allowed("routed", "in_progress")
    assert lifecycle.allowed("in_progress", "answered")
    assert lifecycle.allowed("answered", "closed")
    assert lifecycle.allowed("closed", "in_progress")  # the citizen follows up
    for previous, current in [
        ("new", "closed"),
        ("new", "answered"),
        ("routed", "closed"),
        ("merged", "routed"),
        ("rejected", "in_progress"),
        ("closed", "answered"),
    ]:
        assert not lifecycle.allowed(previous, current)
        with pytest.raises(IllegalTransition, match="Không thể chuyển"):
            lifecycle.check(previous, current)
    assert lifecycle.next_statuses("answered") == ["in_progress", "closed"]


def test_working_days_skip_weekends_and_tet():
    cal = WorkCalendar.load()
    # Friday 13 Feb 2026 + 1 working day: the weekend, then Tết (16–20 Feb), then the weekend.
    assert cal.add_working_days(date(2026, 2, 13), 1) == date(2026, 2, 23)
    assert cal.add_working_days(date(2026, 11, 23), 5) == date(2026, 11, 30)
    assert not cal.is_working_day(date(2027, 9, 2)) and not cal.is_working_day(date(2026, 4, 30))
    # Received on a Friday evening in Vietnam: due at 17:00 local on the 10th working day.
    due = cal.due_at(datetime(2026, 11, 27, 12, 0, tzinfo=UTC), 10)
    assert due == datetime(2026, 12, 11, 10, 0, tzinfo=UTC)


def test_holiday_file_is_configurable(tmp_path):
    path = tmp_path / "h.json"
    path.write_text('{"fixed": [], "dates": ["2026-11-30"]}')
    assert WorkCalendar.load(path).add_working_days(date(2026, 11, 27), 1) == date(2026, 12, 1)


def test_tracking_codes_are_random_and_well_formed():
    seen = {codes.new_code("complaint") for _ in range(2000)}
    assert len(seen) == 2000
    assert all(codes.is_valid(c) and c.startswith("PA-") for c in seen)
    assert codes.new_code("proposal").startswith("KN-") and codes.new_code("question")[:3] == "CH-"
    assert not codes.is_valid("PA-123") and not codes.is_valid("pa-7K3M9QX2")


def test_location_is_normalised():
    assert normalize_location("  xã  tả van, SA PA ") == ("xã Tả Van, Sa Pa", "ta van sa pa")
    assert normalize_location("thị trấn Bắc Hà")[1] == "bac ha"
    assert normalize_location("   ") == (None, None)


def _item(session, *, text="Đường hỏng", due_in_days=10, kind="complaint"):
    from feedback_api.feedback.schemas import FeedbackCreate
    from feedback_api.feedback.service import create_feedback

    data = FeedbackCreate(kind=kind, text=text, channel="api", idempotency_key=uuid.uuid4().hex)
    item, created = create_feedback(
        session,
        data=data,
        actor="test",
        calendar=WorkCalendar.load(),
        service_levels={"complaint": 10, "proposal": 15, "question": 5},
    )
    assert created
    return item


def test_overdue_items_escalate_once_to_the_provincial_office(database):
    from feedback_api.feedback import flows
    from feedback_api.notify.orm import OutboxMessage

    with database.session() as s:
        item = _item(s)
        flows.assign(s, item=item, department="xay-dung", actor="test", public_url="http://x")
        code = item.tracking_code
    later = datetime.now(UTC) + timedelta(days=60)
    with database.session() as s:
        assert flows.escalate_overdue(s, later, public_url="http://x") >= 1
    with database.session() as s:
        assert flows.escalate_overdue(s, later, public_url="http://x") == 0  # only once
        from feedback_api.feedback.service import get_by_code

        item = get_by_code(s, code=code)
        assert item.escalated_at is not None and item.priority == "high"
        assert item.events[-1].action == "escalated"
        keys = [
            m.dedupe_key
            for m in s.query(OutboxMessage).filter(OutboxMessage.dedupe_key.like(f"email:{code}:%"))
        ]
        assert any(f":{CENTRAL}:" in k for k in keys) and any(":xay-dung:" in k for k in keys)


def test_reply_before_routing_and_merge_into_itself_are_refused(database):
    from feedback_api.errors import Invalid
    from feedback_api.feedback import flows
    from feedback_api.feedback.service import merge

    with database.session() as s:
        item = _item(s)
        with pytest.raises(IllegalTransition):
            flows.reply(s, item=item, text="Trả lời", actor="test")
        with pytest.raises(Invalid):
            merge(s, item=item, into=item, actor="test", reason=None)
        s.rollback()


def test_service_levels_and_database_url_come_from_the_environment(monkeypatch):
    from feedback_api.settings import Settings

    monkeypatch.setenv("CAUNOI_SERVICE_LEVELS", "complaint=3,proposal=20,question=2")
    monkeypatch.setenv("DATABASE_URL", "postgres://u@h/db")
    settings = Settings()
    assert settings.service_levels == {"complaint": 3, "proposal": 20, "question": 2}
    assert settings.database_url == "postgresql+psycopg://u@h/db"
    monkeypatch.setenv("CAUNOI_SERVICE_LEVELS", "complaint=3")
    with pytest.raises(ValueError, match="CAUNOI_SERVICE_LEVELS"):
        Settings()
    monkeypatch.delenv("CAUNOI_SERVICE_LEVELS")
    monkeypatch.setenv("CAUNOI_ENV", "production")
    monkeypatch.setenv("CAUNOI_PUBLIC_URL", "https://phananh.laocai.example")
    monkeypatch.setenv("CAUNOI_SECRET_KEY", "too-short")
    with pytest.raises(ValueError, match="CAUNOI_SECRET_KEY"):
        Settings()
