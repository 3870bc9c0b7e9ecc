"""Multi-step changes with side effects: intake, routing, re-routing, replies, escalation.

Side effects (email to liaisons, webhooks, replies to citizens) are outbox rows written in the
same transaction as the change, so they happen exactly when the change commits.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from feedback_api.channels.store import take_attachments
from feedback_api.db import utcnow
from feedback_api.departments import service as departments
from feedback_api.departments.codes import CENTRAL, INSPECTORATE
from feedback_api.departments.orm import Department
from feedback_api.departments.routing_keywords import is_formal_complaint
from feedback_api.errors import IllegalTransition, Invalid
from feedback_api.feedback import lifecycle, notices
from feedback_api.feedback.calendar import WorkCalendar
from feedback_api.feedback.orm import FeedbackItem
from feedback_api.feedback.schemas import URL, FeedbackCreate
from feedback_api.feedback.service import add_event, change_status, create_feedback
from feedback_api.notify import service as outbox
from feedback_api.notify import templates

FORMAL_PROCEDURE = {
    "title": "Khiếu nại, tố cáo có thủ tục riêng theo luật",
    "text": (
        "Chúng tôi đã ghi nhận nội dung của bạn và chuyển đến Thanh tra tỉnh. "
        "Lưu ý: khiếu nại (theo Luật Khiếu nại 2011) và tố cáo (theo Luật Tố cáo 2018) chỉ được "
        "thụ lý khi có đơn ghi rõ họ tên, địa chỉ, nội dung và chữ ký của người gửi, hoặc khi "
        "bạn trình bày trực tiếp tại Ban Tiếp công dân tỉnh. Tin nhắn này chưa thay thế đơn "
        "chính thức; cán bộ sẽ hướng dẫn bạn các bước tiếp theo."
    ),
}
TO_INSPECTORATE = "Khiếu nại/tố cáo: chuyển Thanh tra tỉnh theo thủ tục riêng."

MAX_ATTACHMENTS = 10  # as FeedbackCreate allows


def _notify_department(
    session: Session, *, item: FeedbackItem, dept: Department, reason: str, public_url: str
) -> None:
    """Email the department's liaison (and call its webhook) about this item."""
    n = sum(1 for e in item.events if e.action in ("routed", "rerouted", "escalated"))
    key = f"{item.tracking_code}:{dept.code}:{n}"
    liaison = departments.primary_liaison(dept)
    if liaison is not None:
        subject, body = templates.liaison_email(
            tracking_code=item.tracking_code,
            kind=item.kind,
            department_name=dept.name,
            text=item.text,
            location=item.location,
            due_at=item.due_at,
            inbox_url=f"{public_url}/inbox/items/{item.tracking_code}",
            reason=reason,
        )
        try:
            outbox.enqueue_email(
                session, to=liaison.email, subject=subject, body=body, dedupe_key=f"email:{key}"
            )
        except ValueError:
            # A liaison address an admin mistyped must not block routing: the item is still
            # routed and the history says why nobody was emailed.
            add_event(
                session,
                item,
                actor="system:notify",
                action="note",
                reason=f"Không gửi được email cho đầu mối {dept.name}: địa chỉ không hợp lệ.",
            )
    if dept.webhook_url:
        outbox.enqueue_webhook(
            session,
            url=dept.webhook_url,
            event="feedback.routed",
            data={
                "tracking_code": item.tracking_code,
                "department": dept.code,
                "kind": item.kind,
                "status": item.status,
                "reason": reason,
            },
            dedupe_key=f"webhook:{key}",
        )


def assign(
    session: Session,
    *,
    item: FeedbackItem,
    department: str,
    actor: str,
    public_url: str,
    reason: str | None = None,
    confidence: float | None = None,
    alternatives: Sequence[dict] = (),
    needs_routing: bool = False,
) -> FeedbackItem:
    """Route a new item, or re-route an open one, and notify the new department's liaison."""
    dept = departments.get_department(session, code=department)
    if item.status not in ("new", "routed", "in_progress"):
        raise IllegalTransition(
            f"Không thể chuyển cơ quan khi phản ánh ở trạng thái '{lifecycle.LABELS[item.status]}'."
        )
    previous = item.department_code
    first = item.status == "new"
    if not first and previous == department and not item.needs_routing:
        raise Invalid(f"Phản ánh đã thuộc {dept.name}.")
    if item.status != "routed":
        change_status(session, item=item, status="routed", actor=actor, reason=reason)
    item.department_code = department
    item.needs_routing = needs_routing
    if confidence is not None:
        item.routing_confidence = round(float(confidence), 4)
        item.routing_alternatives = list(alternatives)
    item.routed_at = item.updated_at = utcnow()
    add_event(
        session,
        item,
        actor=actor,
        action="routed" if first else "rerouted",
        from_value=previous,
        to_value=department,
        reason=reason,
    )
    label = "mới" if first else f"chuyển từ {previous or 'chưa phân loại'}"
    _notify_department(session, item=item, dept=dept, reason=label, public_url=public_url)
    if not needs_routing:  # an item waiting for central triage has not reached anyone yet
        notices.notify_status(session, item, status="routed", department_name=dept.name)
    session.flush()
    return item


def take_in(
    session: Session,
    *,
    data: FeedbackCreate,
    actor: str,
    calendar: WorkCalendar,
    service_levels: dict[str, int],
    public_url: str,
    department: str | None = None,
    reason: str | None = None,
) -> tuple[FeedbackItem, bool]:
    """Store a submission once per idempotency key: (item, created).

    A new formal complaint or denunciation goes to the inspectorate at once, whatever the
    channel. Otherwise an item whose sender chose ``department`` (Open311) is assigned there
    by that sender, and any other item stays ``new`` for the classifier (worker.py).
    """
    formal = is_formal_complaint(data.text)
    item, created = create_feedback(
        session, data=data, actor=actor, calendar=calendar, service_levels=service_levels,
        formal_complaint=formal,
    )
    if created and item.channel in notices.GATEWAY_CHANNELS and item.sender_id:
        # photos the citizen sent on Zalo or Messenger while writing it
        photos = [url for url in take_attachments(session, item.channel, item.sender_id)
                  if len(url) <= 1000 and re.fullmatch(URL, url)]
        if photos:
            item.attachments = [*item.attachments, *photos][:MAX_ATTACHMENTS]
    if created and (formal or department is not None):
        assign(
            session, item=item, department=INSPECTORATE if formal else department,
            actor=actor if department is not None else "system:router",
            public_url=public_url, reason=TO_INSPECTORATE if formal else reason,
        )
    return item, created


def apply_decision(
    session: Session, *, item: FeedbackItem, decision, public_url: str
) -> FeedbackItem:
    """Apply the classifier's decision (central triage when it is not confident)."""
    alternatives = [
        {"department": a.department, "score": round(a.score, 4)} for a in decision.alternatives
    ]
    reason = f"Tự động ({decision.reason}, độ tin cậy {decision.confidence:.2f})"
    if not decision.auto_routed:
        reason = f"Cần phân loại: dự đoán {decision.predicted} ({decision.confidence:.2f})"
    if decision.formal_complaint:
        item.formal_complaint = True
    return assign(
        session,
        item=item,
        department=decision.department,
        actor="system:router",
        public_url=public_url,
        reason=reason,
        confidence=decision.confidence,
        alternatives=alternatives,
        needs_routing=not decision.auto_routed,
    )


def pending_routing(session: Session, *, limit: int = 32) -> list[tuple[int, str, list]]:
    """(id, text, citations) of items still ``new``, oldest first."""
    query = select(FeedbackItem.id, FeedbackItem.text, FeedbackItem.citations)
    query = query.where(FeedbackItem.status == "new").order_by(FeedbackItem.id).limit(limit)
    return [tuple(row) for row in session.execute(query)]


def route_pending(
    database,
    *,
    classifier,
    cited_departments: Callable[[list[dict]], list[str]],
    public_url: str,
    limit: int = 32,
) -> int:
    """Route a batch of ``new`` items; returns how many were routed.

    The classifier runs between two short transactions, so intake is never blocked behind the
    encoder (SQLite has one writer); an item another worker routed meanwhile is skipped.
    """
    with database.session() as session:
        batch = pending_routing(session, limit=limit)
    if not batch:
        return 0
    decisions = classifier.route_many(
        [text for _, text, _ in batch], [cited_departments(c or []) for _, _, c in batch]
    )
    with database.session() as session:
        for (item_id, _, _), decision in zip(batch, decisions, strict=True):
            query = select(FeedbackItem).where(FeedbackItem.id == item_id)
            if session.get_bind().dialect.name == "postgresql":
                query = query.with_for_update(skip_locked=True)
            item = session.scalar(query)
            if item is None or item.status != "new":
                continue
            apply_decision(session, item=item, decision=decision, public_url=public_url)
    return len(batch)


def reply(session: Session, *, item: FeedbackItem, text: str, actor: str) -> FeedbackItem:
    """A public reply: stored on the item, shown on the status page, sent over the channel."""
    if item.status in ("new", "rejected", "merged"):
        raise IllegalTransition(
            f"Không thể trả lời khi phản ánh ở trạng thái '{lifecycle.LABELS[item.status]}'."
        )
    if item.status in ("routed", "in_progress", "closed"):
        target = "answered" if item.status != "closed" else "in_progress"
        change_status(session, item=item, status=target, actor=actor)
        if target == "in_progress":
            change_status(session, item=item, status="answered", actor=actor)
    item.public_reply = text
    add_event(session, item, actor=actor, action="reply", reason=text, public=True)
    n = sum(1 for e in item.events if e.action == "reply")
    if item.sender_id:
        dept = session.get(Department, item.department_code) if item.department_code else None
        outbox.enqueue_citizen_reply(
            session,
            channel=item.channel,
            sender_id=item.sender_id,
            text=templates.citizen_reply_text(
                tracking_code=item.tracking_code,
                department_name=dept.name if dept else "",
                reply=text,
            ),
            tracking_code=item.tracking_code,
            dedupe_key=f"reply:{item.tracking_code}:{n}",
        )
    session.flush()
    return item


def escalate_overdue(session: Session, now: datetime, *, public_url: str, limit: int = 100) -> int:
    """Open items past their due date: raise priority and alert the provincial office once."""
    query = (
        select(FeedbackItem)
        .where(
            FeedbackItem.status.in_(lifecycle.OPEN),
            FeedbackItem.due_at < now,
            FeedbackItem.escalated_at.is_(None),
        )
        .order_by(FeedbackItem.due_at)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    central = departments.get_department(session, code=CENTRAL)
    items = list(session.scalars(query))
    for item in items:
        item.escalated_at = now
        if item.priority in ("low", "normal"):
            item.priority = "high"
        add_event(
            session,
            item,
            actor="system:sla",
            action="escalated",
            to_value=CENTRAL,
            reason="Quá hạn xử lý theo quy định.",
        )
        _notify_department(
            session, item=item, dept=central, reason="quá hạn", public_url=public_url
        )
    session.flush()
    return len(items)
