"""Geometry for the dashboard's inline SVG charts; the templates only draw what is computed here."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from feedback_api.feedback import lifecycle
from feedback_api.inbox.stats import Week

LABEL_W, BAR_W, ROW_H, PAD = 250, 420, 24, 8


@dataclass
class Segment:
    x: float
    width: float
    css: str
    title: str


@dataclass
class Row:
    y: float
    label: str
    total: int
    segments: list[Segment] = field(default_factory=list)


@dataclass
class HBarChart:
    width: int
    height: int
    label_w: int
    rows: list[Row]


@dataclass
class Column:
    x: float
    y: float
    width: float
    height: float
    label: str
    count: int


@dataclass
class ColumnChart:
    width: int
    height: int
    base_y: float
    columns: list[Column]


def _scale(biggest: int) -> float:
    return BAR_W / biggest if biggest else 0.0


def stacked_by_status(counts: dict[str, dict[str, int]], names: dict[str, str]) -> HBarChart:
    """One bar per department, split by status, largest first."""
    order = sorted(counts, key=lambda code: -sum(counts[code].values()))
    scale = _scale(max((sum(c.values()) for c in counts.values()), default=0))
    rows = []
    for i, code in enumerate(order):
        row = Row(y=PAD + i * ROW_H, label=names.get(code, code or "Chưa phân loại"),
                  total=sum(counts[code].values()))
        x = float(LABEL_W)
        for status in lifecycle.STATUSES:
            n = counts[code].get(status, 0)
            if n:
                row.segments.append(Segment(x=x, width=n * scale, css=f"st-{status}",
                                            title=f"{lifecycle.LABELS[status]}: {n}"))
                x += n * scale
        rows.append(row)
    return HBarChart(width=LABEL_W + BAR_W + 60, height=2 * PAD + len(rows) * ROW_H,
                     label_w=LABEL_W, rows=rows)


def single_bars(counts: dict[str, int], names: dict[str, str], *, css: str) -> HBarChart:
    """One plain bar per department (e.g. overdue items), largest first."""
    order = sorted((c for c in counts if counts[c]), key=lambda c: -counts[c])
    scale = _scale(max(counts.values(), default=0))
    rows = [
        Row(y=PAD + i * ROW_H, label=names.get(code, code or "Chưa phân loại"),
            total=counts[code],
            segments=[Segment(x=LABEL_W, width=counts[code] * scale, css=css,
                              title=str(counts[code]))])
        for i, code in enumerate(order)
    ]
    return HBarChart(width=LABEL_W + BAR_W + 60, height=2 * PAD + len(rows) * ROW_H,
                     label_w=LABEL_W, rows=rows)


def weekly_columns(weeks: Sequence[Week], *, height: int = 180) -> ColumnChart:
    """Vertical bars, one per week, labelled with the week's Monday (dd/mm)."""
    col_w, gap, top, bottom = 44, 10, 20, 24
    biggest = max((w.count for w in weeks), default=0)
    usable = height - top - bottom
    base = float(height - bottom)
    columns = []
    for i, week in enumerate(weeks):
        h = usable * week.count / biggest if biggest else 0.0
        columns.append(Column(x=PAD + i * (col_w + gap), y=base - h, width=col_w, height=h,
                              label=week.start.strftime("%d/%m"), count=week.count))
    return ColumnChart(width=2 * PAD + len(weeks) * (col_w + gap), height=height, base_y=base,
                       columns=columns)
