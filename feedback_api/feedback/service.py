"""Feedback store: keyword-only, typed functions over a session; domain errors, never HTTP.

Every change writes a FeedbackEvent (the audit trail); every status change goes through
``lifecycle.check``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from feedback_api.db import utcnow
from feedback_api.errors import Conflict, Invalid, NotFound
from feedback_api.feedback import codes, lifecycle
from feedback_api.feedback.calendar import WorkCalendar
from feedback_api.feedback.orm import FeedbackEvent, FeedbackItem
from feedback_api.feedback.schemas import FeedbackCreate
from vietnamese import fold

KEY_REUSED = "Khóa idempotency_key này đã dùng cho một nội dung khác."
ERASED_REPLY = "(Nội dung trả lời đã được xóa cùng dữ liệu cá nhân của người dân.)"
PLACE_PREFIXES = ("xã", "phường", "thị trấn", "thôn", "bản", "tổ", "huyện", "thị xã", "thành phố")


def normalize_location(text: str | None) -> tuple[str | None, str | None]:
    """("xã Tả Van, Sa Pa", "ta van sa pa"): capitalised names, folded key for filtering."""
    if not text or not text.strip():
        return None, None
    words = re.sub(r"\s+", " ", text.strip()).split(" ")
    out: list[str] = []
    for i, word in enumerate(words):
        lower = word.lower()
        two = " ".join(w.lower() for w in words[i - 1 : i + 1]) if i else ""
        if lower in PLACE_PREFIXES or two in PLACE_PREFIXES:
            out.append(lower)
        else:
            out.append(word[:1].upper() + word[1:].lower())
    display = " ".join(out)
    key = fold(display).lower()
    for prefix in sorted(PLACE_PREFIXES, key=len, reverse=True):
        key = re.sub(rf"\b{fold(prefix)}\b", " ", key)
    key = re.sub(r"[^a-z0-9]+", " ", key).strip()
    return display, key or None


def add_event(
    session: Session,
    item: FeedbackItem,
    *,
    actor: str,
    action: str,
    from_value: str | None = None,
    to_value: str | None = None,
    reason: str | None = None,
    public: bool = False,
) -> FeedbackEvent:
    event = FeedbackEvent(
        actor=actor,
        action=action,
        from_value=from_value,
        to_value=to_value,
        reason=reason,
        public=public,
        at=utcnow(),
    )
    item.events.append(event)
    return event


def find_by_key(session: Session, *, idempotency_key: str) -> FeedbackItem | None:
    return session.scalar(
        select(FeedbackItem).where(FeedbackItem.idempotency_key == idempotency_key)
    )


def _same_submission(item: FeedbackItem, data: FeedbackCreate) -> bool:
    return item.kind == data.kind and item.text == data.text and item.channel == data.channel


def create_feedback(
    session: Session,
    *,
    data: FeedbackCreate,
    actor: str,
    calendar: WorkCalendar,
    service_levels: dict[str, int],
    formal_complaint: bool = False,
    now: datetime | None = None,
) -> tuple[FeedbackItem, bool]:
    """Store a submission once per idempotency key: (item, created).

    Must be the first write of the session's transaction: the unique key decides, and a
    duplicate rolls the transaction back (one round trip fewer than asking first).
    """
    if data.contact is not None and not data.contact.consent:
        raise Invalid("Chỉ lưu thông tin liên hệ khi người dân đồng ý (consent: true).")
    now = now or utcnow()
    display, key = normalize_location(data.location)
    item = FeedbackItem(
        idempotency_key=data.idempotency_key,
        kind=data.kind,
        text=data.text,
        channel=data.channel,
        sender_id=data.sender_id,
        location=display,
        location_key=key,
        citations=[c.model_dump(exclude_defaults=True) for c in data.citations],
        attachments=list(data.attachments),
        status="new",
        formal_complaint=formal_complaint,
        due_at=calendar.due_at(now, service_levels[data.kind]),
        contact_name=data.contact.name if data.contact else None,
        contact_phone=data.contact.phone if data.contact else None,
        contact_consent=bool(data.contact and data.contact.consent),
        created_at=now,
        updated_at=now,
    )
    add_event(session, item, actor=actor, action="created", to_value="new")
    reserved = data.tracking_code  # a code the bot reserved: the only one to try
    if reserved and not codes.fits_kind(reserved, data.kind):
        raise Invalid(f"Mã theo dõi {reserved} không đúng loại ý kiến "
                      f"(dùng tiền tố {codes.PREFIX[data.kind]}-).")
    for _ in range(1 if reserved else 5):
        item.tracking_code = reserved or codes.new_code(data.kind)
        try:
            session.add(item)
            session.flush()
            return item, True
        except IntegrityError:
            # Either the key was seen before, or the code is taken: a reserved code by another
            # item, a new one (1 in 10^12) by chance, then retry.
            session.rollback()
            existing = find_by_key(session, idempotency_key=data.idempotency_key)
            if existing is not None:
                if not _same_submission(existing, data):
                    raise Conflict(KEY_REUSED) from None
                if reserved and existing.tracking_code != reserved:
                    raise Conflict(
                        "Khóa idempotency_key này đã dùng với một mã theo dõi khác."
                    ) from None
                return existing, False
    if reserved:
        raise Conflict(f"Mã theo dõi {reserved} đã được dùng cho một ý kiến khác.")
    raise Conflict("Không tạo được mã theo dõi, hãy gửi lại.")


def get_by_code(session: Session, *, code: str) -> FeedbackItem:
    """The item with this tracking code, or NotFound (also for malformed codes)."""
    code = code.strip().upper()
    if not codes.is_valid(code):
        raise NotFound("Mã theo dõi không đúng dạng (ví dụ: PA-7K3M9QX2).")
    item = session.scalar(select(FeedbackItem).where(FeedbackItem.tracking_code == code))
    if item is None:
        raise NotFound(f"Không tìm thấy phản ánh có mã {code}.")
    return item


def change_status(
    session: Session, *, item: FeedbackItem, status: str, actor: str, reason: str | None = None
) -> FeedbackItem:
    """Move an item along the lifecycle (illegal moves raise IllegalTransition)."""
    lifecycle.check(item.status, status)
    previous, item.status = item.status, status
    item.updated_at = utcnow()
    if status == "closed":
        item.closed_at = item.updated_at
    add_event(
        session,
        item,
        actor=actor,
        action="status",
        from_value=previous,
        to_value=status,
        reason=reason,
        public=status in ("answered", "closed", "rejected"),
    )
    if status == "closed":
        from feedback_api.feedback.notices import notify_status  # it imports the outbox

        notify_status(session, item, status="closed")
    session.flush()
    return item


def set_priority(session: Session, *, item: FeedbackItem, priority: str, actor: str) -> None:
    if priority == item.priority:
        return
    add_event(
        session,
        item,
        actor=actor,
        action="updated",
        from_value=f"priority={item.priority}",
        to_value=f"priority={priority}",
    )
    item.priority = priority
    item.updated_at = utcnow()


def add_note(session: Session, *, item: FeedbackItem, text: str, actor: str) -> FeedbackEvent:
    """An internal note, never shown to the citizen."""
    event = add_event(session, item, actor=actor, action="note", reason=text)
    item.updated_at = utcnow()
    session.flush()
    return event


def merge(
    session: Session, *, item: FeedbackItem, into: FeedbackItem, actor: str, reason: str | None
) -> FeedbackItem:
    """Mark ``item`` a duplicate of ``into`` (which must be a different, unmerged item)."""
    if into.id == item.id:
        raise Invalid("Không thể gộp một phản ánh với chính nó.")
    if into.status == "merged":
        raise Invalid(
            f"{into.tracking_code} đã được gộp vào phản ánh khác; hãy gộp vào phản ánh gốc."
        )
    change_status(session, item=item, status="merged", actor=actor, reason=reason)
    item.merged_into_id = into.id
    add_event(
        session,
        into,
        actor=actor,
        action="note",
        reason=f"Đã gộp phản ánh trùng {item.tracking_code} vào đây.",
    )
    session.flush()
    return item


def merged_into_code(session: Session, item: FeedbackItem) -> str | None:
    if item.merged_into_id is None:
        return None
    return session.scalar(
        select(FeedbackItem.tracking_code).where(FeedbackItem.id == item.merged_into_id)
    )


@dataclass
class Filters:
    status: str | None = None
    department: str | None = None
    departments: set[str] | None = None  # visibility: None means all
    kind: str | None = None
    commune: str | None = None
    overdue: bool | None = None
    needs_routing: bool | None = None
    text: str | None = None
    limit: int = 50
    offset: int = 0
    order: str = "newest"
    extra: dict = field(default_factory=dict)


def _where(filters: Filters, now: datetime) -> list:
    conds = []
    if filters.departments is not None:
        conds.append(FeedbackItem.department_code.in_(filters.departments))
    if filters.status:
        conds.append(FeedbackItem.status == filters.status)
    if filters.department:
        conds.append(FeedbackItem.department_code == filters.department)
    if filters.kind:
        conds.append(FeedbackItem.kind == filters.kind)
    if filters.commune:
        _, key = normalize_location(filters.commune)
        if key:
            conds.append(FeedbackItem.location_key.contains(key, autoescape=True))
    if filters.overdue is not None:
        late = (FeedbackItem.status.in_(lifecycle.OPEN)) & (FeedbackItem.due_at < now)
        conds.append(late if filters.overdue else ~late)
    if filters.needs_routing is not None:
        conds.append(FeedbackItem.needs_routing == filters.needs_routing)
    if filters.text:
        pattern = filters.text.strip()
        conds.append(
            or_(
                FeedbackItem.text.icontains(pattern, autoescape=True),
                FeedbackItem.tracking_code == pattern.upper(),
            )
        )
    return conds


def list_items(
    session: Session, *, filters: Filters, now: datetime | None = None
) -> tuple[list[FeedbackItem], int, dict[str, int]]:
    """A page of items, the total matching, and counts per status (same filters, any status)."""
    now = now or utcnow()
    conds = _where(filters, now)
    order = (
        FeedbackItem.created_at.asc()
        if filters.order == "oldest"
        else FeedbackItem.created_at.desc()
    )
    if filters.order == "due":
        order = FeedbackItem.due_at.asc()
    rows = list(
        session.scalars(
            select(FeedbackItem)
            .where(*conds)
            .order_by(order, FeedbackItem.id.desc())
            .limit(filters.limit)
            .offset(filters.offset)
        )
    )
    total = session.scalar(select(func.count()).select_from(FeedbackItem).where(*conds)) or 0
    by_status = Filters(**{**filters.__dict__, "status": None})
    counts = dict(
        session.execute(
            select(FeedbackItem.status, func.count())
            .where(*_where(by_status, now))
            .group_by(FeedbackItem.status)
        ).all()
    )
    return rows, total, counts


def is_overdue(item: FeedbackItem, now: datetime | None = None) -> bool:
    return item.status in lifecycle.OPEN and item.due_at < (now or utcnow())


def personal_data(session: Session, *, channel: str, sender_id: str) -> list[FeedbackItem]:
    """Every item a citizen (channel + channel user id) submitted."""
    return list(
        session.scalars(
            select(FeedbackItem)
            .where(FeedbackItem.channel == channel, FeedbackItem.sender_id == sender_id)
            .order_by(FeedbackItem.id)
        )
    )


def erase_personal_data(
    session: Session, *, channel: str, sender_id: str, actor: str,
    redact: Callable[[str | None], str | None],
) -> int:
    """Remove who sent a citizen's items and keep what they said; returns how many items.

    - sender id, contact name, phone and consent are cleared;
    - the item's text, location and the texts of its events (notes, reasons, values) keep their
      words with the citizen's known identifiers cut out by ``redact`` (privacy/redact.py);
    - replies are blanked, on the item and in its reply events (who replied and when stay): a
      reply is written to one citizen and often greets them by a name the store was never told,
      and its only reader was the citizen who now asks to be forgotten;
    - a client-chosen idempotency key that holds an identifier is replaced.
    """
    items = personal_data(session, channel=channel, sender_id=sender_id)
    for item in items:
        item.sender_id = None
        item.contact_name = None
        item.contact_phone = None
        item.contact_consent = False
        item.text = redact(item.text) or ""
        item.location = redact(item.location)
        if redact(item.idempotency_key) != item.idempotency_key:
            item.idempotency_key = f"erased:{item.tracking_code}"
        if item.public_reply is not None:
            item.public_reply = ERASED_REPLY
        for event in item.events:
            event.reason = ERASED_REPLY if event.action == "reply" else redact(event.reason)
            event.from_value = redact(event.from_value)
            event.to_value = redact(event.to_value)
        item.updated_at = utcnow()
        add_event(
            session,
            item,
            actor=actor,
            action="erased",
            reason="Xóa dữ liệu cá nhân theo yêu cầu của người dân.",
        )
    session.flush()
    return len(items)
