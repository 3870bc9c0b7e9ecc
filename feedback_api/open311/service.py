"""Open311 over the feedback store: what it reads, what the public sees of an item, and a
submission in the store's shape. Raises domain errors, never HTTP (views.py turns them into
GeoReport's error lists)."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime, timedelta

from pydantic import ValidationError
from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from feedback_api.db import utcnow
from feedback_api.departments import service as departments
from feedback_api.departments.codes import INSPECTORATE
from feedback_api.departments.orm import Department
from feedback_api.errors import Invalid
from feedback_api.feedback import flows, lifecycle
from feedback_api.feedback.orm import FeedbackItem
from feedback_api.feedback.schemas import FeedbackCreate
from feedback_api.open311.schemas import KINDS, RequestPublic, RequestSubmission, ServicePublic

KEYWORDS = {
    "complaint": "phản ánh, sự cố, bất cập",
    "proposal": "kiến nghị, đề xuất, góp ý chính sách",
    "question": "câu hỏi, hỏi đáp chính sách",
}
KEY_PREFIX = "open311:"  # marks items submitted through Open311 (whose text may be published)
MAX_RESULTS = 1000
MAX_IDS = 20  # codes per service_request_id lookup: a look-up by codes is not a way to guess them
WINDOW = timedelta(days=90)
HIDDEN = "[đã ẩn]"
EMAIL = re.compile(r"[^\s@<>]+@[^\s@<>]+\.[A-Za-z]{2,}")
PHONE = re.compile(r"\+?\d[\d .-]{7,}\d")
COORDS = re.compile(r"^Tọa độ (-?\d+(?:\.\d+)?), (-?\d+(?:\.\d+)?)$", re.IGNORECASE)
FIELD_NAMES = {"text": "description", "location": "address_string", "attachments": "media_url",
               "sender_id": "account_id/device_id", "contact": "phone/first_name/last_name",
               "idempotency_key": "idempotency_key"}


# --- reading the store ------------------------------------------------------------------------

def list_services(session: Session) -> list[ServicePublic]:
    """One service per department and feedback kind."""
    return [
        ServicePublic(service_code=f"{d.code}.{kind}", service_name=service_name(kind, d.name),
                      description=d.mandate, metadata=False, type="realtime",
                      keywords=KEYWORDS[kind], group=d.name)
        for d in departments.list_departments(session) for kind in KINDS
    ]


def find_service(session: Session, *, code: str) -> tuple[str, str] | None:
    """(department, kind) of an existing service code, else None."""
    department, _, kind = code.strip().rpartition(".")
    if kind not in KINDS or session.get(Department, department) is None:
        return None
    return department, kind


def requests_by_ids(session: Session, *, ids: str) -> list[RequestPublic]:
    """The requests of a comma list of tracking codes, newest first, each as its holder sees it
    (``public_request(..., holder=True)``): knowing a code is what entitles one to its reply,
    exactly as ``requests/{code}.json``. At most ``MAX_IDS`` codes."""
    codes = list(dict.fromkeys(c.strip().upper() for c in ids.split(",") if c.strip()))
    if len(codes) > MAX_IDS:
        raise Invalid(f"Tra cứu tối đa {MAX_IDS} mã mỗi lần.")
    query = select(FeedbackItem).where(FeedbackItem.tracking_code.in_(codes))
    items = session.scalars(query.order_by(FeedbackItem.created_at.desc()))
    names = departments.department_names(session)
    return [public_request(i, names, holder=True) for i in items]


def requests_between(
    session: Session, *, start: datetime | None, end: datetime | None,
    service_codes: str | None, statuses: set[str],
) -> list[RequestPublic]:
    """Public requests of at most 90 days: the range asked for is cut to its last 90 days;
    start alone means the 90 days from start; nothing means the last 90 days. Only what is
    published (``published``: came in through Open311, not a formal complaint or denunciation,
    not rejected), without replies; at most ``MAX_RESULTS``, newest first."""
    services = [s for c in (service_codes or "").split(",") if (s := find_service(session, code=c))]
    if service_codes and not services:
        return []
    if end is None:
        end = _shift(start, WINDOW) if start is not None else utcnow()
    earliest = _shift(end, -WINDOW)
    start = earliest if start is None else max(start, earliest)
    if start > end:
        return []
    conds = [FeedbackItem.created_at >= start, FeedbackItem.created_at <= end, *published()]
    if services:
        conds.append(or_(*(and_(FeedbackItem.department_code == d, FeedbackItem.kind == k)
                           for d, k in services)))
    open_ = FeedbackItem.status.in_(lifecycle.OPEN)
    if statuses == {"open"}:
        conds.append(open_)
    elif statuses == {"closed"}:
        conds.append(~open_)
    query = select(FeedbackItem).where(*conds).order_by(FeedbackItem.created_at.desc())
    names = departments.department_names(session)
    return [public_request(i, names, holder=False)
            for i in session.scalars(query.limit(MAX_RESULTS))]


def _shift(moment: datetime, delta: timedelta) -> datetime:
    try:
        return moment + delta
    except OverflowError:
        return datetime.max.replace(tzinfo=UTC) if delta > timedelta(0) else datetime.min.replace(
            tzinfo=UTC)


# --- what the public sees ---------------------------------------------------------------------

def service_name(kind: str, department_name: str) -> str:
    return f"{KINDS[kind]} — {department_name}"


def _mask(text: str) -> str:
    return PHONE.sub(HIDDEN, EMAIL.sub(HIDDEN, text))


def published() -> list:
    """What the public list may show: items that came in through Open311 itself (their
    senders chose a public channel), never a formal complaint or denunciation (flagged, or
    assigned to the inspectorate by hand), never a rejected one. Items from Zalo, Messenger or
    the web chat are reachable only by their tracking code."""
    return [FeedbackItem.idempotency_key.startswith(KEY_PREFIX, autoescape=True),
            FeedbackItem.formal_complaint.is_(False),
            or_(FeedbackItem.department_code.is_(None),
                FeedbackItem.department_code != INSPECTORATE),
            FeedbackItem.status != "rejected"]


def _published(item: FeedbackItem) -> bool:
    return (item.idempotency_key.startswith(KEY_PREFIX) and not item.formal_complaint
            and item.department_code != INSPECTORATE and item.status != "rejected")


def _coordinates(location: str | None) -> tuple[float | None, float | None]:
    match = COORDS.match(location or "")
    return (float(match[1]), float(match[2])) if match else (None, None)


def public_request(item: FeedbackItem, names: dict[str, str], *, holder: bool) -> RequestPublic:
    """An item as GeoReport shows it: text only when published, masked; no personal data.

    The reply was written to one citizen: ``status_notes`` carries it only for ``holder``, who
    asked by the item's tracking code; a listing shows the status label.
    """
    dept = item.department_code
    shown = _published(item)
    lat, long = _coordinates(item.location) if shown else (None, None)
    label = lifecycle.LABELS[item.status]
    notes = (item.public_reply or label) if holder else label
    return RequestPublic(
        service_request_id=item.tracking_code,
        status="open" if item.status in lifecycle.OPEN else "closed",
        status_notes=notes,
        service_name=service_name(item.kind, names[dept]) if dept in names else None,
        service_code=f"{dept}.{item.kind}" if dept else None,
        description=_mask(item.text) if shown else None,
        agency_responsible=names.get(dept) if dept else None,
        service_notice=flows.FORMAL_PROCEDURE["title"] if item.formal_complaint else None,
        requested_datetime=item.created_at,
        updated_datetime=item.updated_at,
        expected_datetime=item.due_at,
        address=item.location if shown and lat is None else None,
        lat=lat,
        long=long,
        media_url=item.attachments[0] if shown and item.attachments else None,
    )


def notice(item: FeedbackItem, dept_name: str, dropped_contact: bool) -> str:
    """The ``service_notice`` of a submission: where it went, and what was not kept."""
    parts = [f"Đã chuyển đến {dept_name}. Hạn xử lý: {item.due_at:%d/%m/%Y}."]
    if item.formal_complaint:
        parts.append(flows.FORMAL_PROCEDURE["text"])
    else:
        parts.append("Nội dung được công khai qua Open311 (đã che số điện thoại, email).")
    if dropped_contact:
        parts.append("Thông tin liên hệ không được lưu vì thiếu consent=true.")
    return " ".join(parts)


# --- a submission in the store's shape --------------------------------------------------------

def _coordinate(value: float | str | None, name: str, limit: float) -> float | None:
    if value is None or value == "":
        return None
    number = float(value)  # strings are plain decimals (checked by the model)
    if not -limit <= number <= limit:
        raise Invalid(f"{name} phải là số trong khoảng ±{limit:g}.")
    return number


def _location(sub: RequestSubmission) -> str | None:
    lat, long = _coordinate(sub.lat, "lat", 90), _coordinate(sub.long, "long", 180)
    if sub.address_string and sub.address_string.strip():
        return sub.address_string
    if lat is not None and long is not None:
        return f"Tọa độ {lat:.6f}, {long:.6f}"
    return None


def _idempotency_key(sub: RequestSubmission, client: str) -> str:
    if sub.idempotency_key:
        return KEY_PREFIX + sub.idempotency_key
    fields = sub.model_dump(exclude={"api_key"}, exclude_none=True)
    parts = [client] + [f"{k}={fields[k]}" for k in sorted(fields)]
    return KEY_PREFIX + hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def as_feedback(sub: RequestSubmission, *, kind: str, client: str) -> tuple[FeedbackCreate, bool]:
    """The submission in the store's shape, and whether contact details were dropped."""
    name = " ".join(p.strip() for p in (sub.last_name, sub.first_name) if p and p.strip())
    phone = sub.phone or None
    given = bool(name or phone or sub.email)
    data = {
        "kind": kind, "text": sub.description, "channel": "api",
        "sender_id": sub.account_id or sub.device_id or None,
        "location": _location(sub),
        "attachments": [sub.media_url] if sub.media_url else [],
        "contact": ({"name": name or None, "phone": phone, "consent": True}
                    if sub.consent and (name or phone) else None),
        "idempotency_key": _idempotency_key(sub, client),
    }
    try:
        return FeedbackCreate(**data), given and not sub.consent
    except ValidationError as exc:
        names = sorted({FIELD_NAMES.get(str(e["loc"][0]), str(e["loc"][0])) for e in exc.errors()})
        raise Invalid(f"Dữ liệu không hợp lệ: {', '.join(names)}.") from None
