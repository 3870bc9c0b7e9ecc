"""Working days in Vietnam: weekends and public holidays (Tết included) stop the clock."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

LOCAL = ZoneInfo("Asia/Ho_Chi_Minh")
HOLIDAYS = Path(__file__).with_name("holidays.json")
END_OF_DAY = time(17, 0)  # due at the close of the working day


@dataclass(frozen=True)
class WorkCalendar:
    fixed: frozenset[tuple[int, int]]  # (month, day) every year
    dates: frozenset[date]

    @classmethod
    def load(cls, path: Path | None = None) -> WorkCalendar:
        data = json.loads((path or HOLIDAYS).read_text(encoding="utf-8"))
        fixed = frozenset(tuple(int(x) for x in md.split("-")) for md in data.get("fixed", []))
        dates = frozenset(date.fromisoformat(d) for d in data.get("dates", []))
        return cls(fixed=fixed, dates=dates)  # type: ignore[arg-type]

    def is_working_day(self, day: date) -> bool:
        return (
            day.weekday() < 5 and (day.month, day.day) not in self.fixed and day not in self.dates
        )

    def add_working_days(self, start: date, days: int) -> date:
        """The ``days``-th working day after ``start`` (start itself does not count)."""
        day = start
        remaining = days
        while remaining > 0:
            day += timedelta(days=1)
            if self.is_working_day(day):
                remaining -= 1
        return day

    def due_at(self, received: datetime, working_days: int) -> datetime:
        """When an item received at ``received`` is due: close of business, local time."""
        local_day = received.astimezone(LOCAL).date()
        due_day = self.add_working_days(local_day, working_days)
        return datetime.combine(due_day, END_OF_DAY, tzinfo=LOCAL).astimezone(UTC)
