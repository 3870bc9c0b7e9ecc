"""CSV export of the inbox list: UTF-8 with a BOM (so Excel shows Vietnamese), no personal data.

Channel user ids and contact details are left out; cells that a spreadsheet would read as a
formula are prefixed with an apostrophe (citizens' text is untrusted).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable

from feedback_api.feedback import lifecycle, service
from feedback_api.feedback.orm import FeedbackItem
from feedback_api.inbox.pages import KINDS, PRIORITIES, local_time

HEADER = ("Mã theo dõi", "Loại", "Trạng thái", "Cơ quan", "Địa điểm", "Ngày nhận", "Hạn xử lý",
          "Quá hạn", "Ưu tiên", "Cần phân loại", "Nội dung", "Trả lời")


def _cell(value: str) -> str:
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def to_csv(items: Iterable[FeedbackItem], department_names: dict[str, str]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(HEADER)
    for item in items:
        writer.writerow([_cell(v) for v in (
            item.tracking_code,
            KINDS.get(item.kind, item.kind),
            lifecycle.LABELS.get(item.status, item.status),
            department_names.get(item.department_code or "", ""),
            item.location or "",
            local_time(item.created_at),
            local_time(item.due_at),
            "Có" if service.is_overdue(item) else "",
            PRIORITIES.get(item.priority, item.priority),
            "Có" if item.needs_routing else "",
            item.text,
            item.public_reply or "",
        )])
    return "\ufeff".encode() + out.getvalue().encode("utf-8")
