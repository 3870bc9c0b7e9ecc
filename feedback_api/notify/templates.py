"""Vietnamese message bodies: liaison emails and replies to citizens (plain text).

Only what is passed in ends up in a message; callers pass personal data (name, phone) only when
the citizen consented to share it with the department, and never channel user ids.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

# Việt Nam has no daylight saving time: UTC+7 all year.
VIETNAM_TIME = timezone(timedelta(hours=7), "ICT")

KIND_LABELS = {
    "complaint": "Phản ánh",
    "proposal": "Kiến nghị/đề xuất",
    "question": "Câu hỏi chuyển tiếp",
}

LIAISON_SUBJECT = "[Cầu Nối] {label} {tracking_code} ({reason}) - {department_name}"

LIAISON_BODY = """\
Kính gửi đầu mối của {department_name},

Hệ thống Cầu Nối chuyển tới đơn vị một {label_lower} của người dân ({reason}).

Mã theo dõi: {tracking_code}
Loại: {label}
Địa điểm: {location}
Hạn xử lý: {due}

Nội dung:
{text}

Xem, trả lời người dân hoặc chuyển đơn vị khác tại hộp thư:
{inbox_url}

Đây là thư tự động của hệ thống Cầu Nối - UBND tỉnh Lào Cai, vui lòng không trả lời thư này.
"""

CITIZEN_REPLY = """\
{department_name} trả lời ý kiến mã {tracking_code}:

{reply}

Bạn có thể tra cứu tình trạng ý kiến bằng mã {tracking_code}. Cảm ơn bạn đã gửi ý kiến qua Cầu Nối.\
"""


def kind_label(kind: str) -> str:
    """The Vietnamese label of a feedback kind; unknown kinds are a programming error."""
    try:
        return KIND_LABELS[kind]
    except KeyError:
        raise ValueError(f"unknown feedback kind: {kind!r}") from None


def liaison_email(
    *,
    tracking_code: str,
    kind: str,
    department_name: str,
    text: str,
    location: str | None,
    due_at: datetime | date | None,
    inbox_url: str,
    reason: str,
) -> tuple[str, str]:
    """(subject, body) telling a department's liaison about a new, re-routed or overdue item.

    ``reason`` is a short Vietnamese phrase: "mới", "chuyển từ Sở Tư pháp", "quá hạn".
    """
    label = kind_label(kind)
    values = {
        "label": label,
        "label_lower": label[0].lower() + label[1:],
        "tracking_code": _one_line(tracking_code),
        "department_name": _one_line(department_name),
        "reason": _one_line(reason),
    }
    subject = LIAISON_SUBJECT.format(**values)
    body = LIAISON_BODY.format(
        **values,
        location=_one_line(location) if location and location.strip() else "(không nêu)",
        due=format_due(due_at),
        text=text.strip(),
        inbox_url=inbox_url,
    )
    return subject, body


def citizen_reply_text(*, tracking_code: str, department_name: str, reply: str) -> str:
    """The message a citizen receives on their channel when a department answers."""
    return CITIZEN_REPLY.format(
        department_name=_one_line(department_name),
        tracking_code=_one_line(tracking_code),
        reply=reply.strip(),
    )


def format_due(due_at: datetime | date | None) -> str:
    """A due date as officials read it: dd/mm/yyyy in Vietnam time."""
    if due_at is None:
        return "(chưa đặt)"
    if isinstance(due_at, datetime):
        if due_at.tzinfo is None:
            raise ValueError("naive datetime: use timezone-aware UTC times")
        due_at = due_at.astimezone(VIETNAM_TIME).date()
    return due_at.strftime("%d/%m/%Y")


def _one_line(value: str) -> str:
    """Collapse whitespace, so a value never breaks a subject line or a labelled field."""
    return " ".join(value.split())
