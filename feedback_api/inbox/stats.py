"""Counts for the dashboard, computed by the database (GROUP BY and CASE sums, both backends)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from feedback_api.feedback import lifecycle
from feedback_api.feedback.orm import FeedbackItem
from feedback_api.inbox.pages import VIETNAM

NO_DEPARTMENT = ""  # key for items not yet routed


@dataclass(frozen=True)
class Week:
    start: datetime  # Monday 00:00, Vietnam time
    count: int


def _visible(departments: set[str] | None) -> list:
    return [] if departments is None else [FeedbackItem.department_code.in_(departments)]


def by_department_and_status(
    session: Session, *, departments: set[str] | None = None
) -> dict[str, dict[str, int]]:
    """{department code: {status: count}}; unrouted items under ``NO_DEPARTMENT``."""
    rows = session.execute(
        select(FeedbackItem.department_code, FeedbackItem.status, func.count())
        .where(*_visible(departments))
        .group_by(FeedbackItem.department_code, FeedbackItem.status)
    )
    out: dict[str, dict[str, int]] = {}
    for code, status, n in rows:
        out.setdefault(code or NO_DEPARTMENT, {})[status] = n
    return out


def week_starts(now: datetime, weeks: int = 12) -> list[datetime]:
    """The Mondays (Vietnam time) that start the last ``weeks`` weeks, oldest first."""
    local = now.astimezone(VIETNAM)
    monday = (local - timedelta(days=local.weekday())).replace(hour=0, minute=0, second=0,
                                                                microsecond=0)
    return [monday - timedelta(weeks=weeks - 1 - i) for i in range(weeks)]


def per_week(
    session: Session, *, now: datetime, weeks: int = 12, departments: set[str] | None = None
) -> list[Week]:
    """Items received per week over the last ``weeks`` weeks, in one query."""
    starts = week_starts(now, weeks)
    ends = [*starts[1:], starts[-1] + timedelta(weeks=1)]
    created = FeedbackItem.created_at
    sums = [
        func.coalesce(func.sum(case(((created >= s) & (created < e), 1), else_=0)), 0)
        for s, e in zip(starts, ends)
    ]
    row = session.execute(
        select(*sums).where(created >= starts[0], *_visible(departments))
    ).one()
    return [Week(start=s, count=int(n)) for s, n in zip(starts, row)]


def overdue_by_department(
    session: Session, *, now: datetime, departments: set[str] | None = None
) -> dict[str, int]:
    """Open items past their due date, per department."""
    rows = session.execute(
        select(FeedbackItem.department_code, func.count())
        .where(FeedbackItem.status.in_(lifecycle.OPEN), FeedbackItem.due_at < now,
               *_visible(departments))
        .group_by(FeedbackItem.department_code)
    )
    return {code or NO_DEPARTMENT: n for code, n in rows}
