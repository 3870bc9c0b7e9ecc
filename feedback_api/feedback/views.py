"""Routes of the feedback API: HTTP in and out only; the work is in service.py and flows.py."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Query, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from feedback_api.auth.service import Principal
from feedback_api.departments.codes import CENTRAL
from feedback_api.departments.orm import Department
from feedback_api.deps import (
    CalendarDep,
    DbSession,
    Official,
    Service,
    SettingsDep,
    WakeWorker,
)
from feedback_api.errors import Forbidden, NotFound
from feedback_api.feedback import flows, lifecycle, service
from feedback_api.feedback.orm import FeedbackItem
from feedback_api.feedback.schemas import (
    EventPublic,
    FeedbackCreate,
    FeedbackCreated,
    FeedbackDetail,
    FeedbackList,
    FeedbackStatusPublic,
    FeedbackUpdate,
    FormalProcedure,
    Kind,
    MergeBody,
    Status,
    TextBody,
)
from feedback_api.http import error_responses, idempotent_responses
from feedback_api.ratelimit import StatusLimit, SubmissionLimit

router = APIRouter(prefix="/api/v1", tags=["feedback"])


def _dept_name(session: Session, code: str | None) -> str | None:
    if not code:
        return None
    return session.scalar(select(Department.name).where(Department.code == code))


def _visible(principal: Principal, item: FeedbackItem) -> FeedbackItem:
    """Another department's item is a 404 for a liaison: its existence is not revealed."""
    if not principal.sees(item.department_code):
        raise NotFound(f"Không tìm thấy phản ánh có mã {item.tracking_code}.")
    return item


def status_public(session: Session, item: FeedbackItem) -> FeedbackStatusPublic:
    return FeedbackStatusPublic(
        tracking_code=item.tracking_code,
        kind=item.kind,
        status=item.status,
        status_label=lifecycle.LABELS[item.status],
        department=item.department_code,
        department_name=_dept_name(session, item.department_code),
        created_at=item.created_at,
        due_at=item.due_at,
        public_reply=item.public_reply,
        merged_into=service.merged_into_code(session, item),
    )


def detail(session: Session, item: FeedbackItem) -> FeedbackDetail:
    contact = None
    if item.contact_consent:
        contact = {"name": item.contact_name, "phone": item.contact_phone, "consent": True}
    return FeedbackDetail(
        tracking_code=item.tracking_code, kind=item.kind, text=item.text, channel=item.channel,
        sender_id=item.sender_id, location=item.location, citations=item.citations,
        attachments=item.attachments, department=item.department_code, status=item.status,
        priority=item.priority, formal_complaint=item.formal_complaint,
        needs_routing=item.needs_routing, routing_confidence=item.routing_confidence,
        routing_alternatives=item.routing_alternatives, due_at=item.due_at,
        overdue=service.is_overdue(item), escalated_at=item.escalated_at, contact=contact,
        public_reply=item.public_reply, merged_into=service.merged_into_code(session, item),
        created_at=item.created_at, updated_at=item.updated_at,
        events=[EventPublic.model_validate(e, from_attributes=True) for e in item.events],
    )


def _created(session: Session, item: FeedbackItem) -> FeedbackCreated:
    return FeedbackCreated(
        tracking_code=item.tracking_code,
        department=item.department_code,
        department_name=_dept_name(session, item.department_code),
        status=item.status,
        due_at=item.due_at,
        routing="pending" if item.status == "new" else "done",
        formal_complaint=item.formal_complaint,
        formal_procedure=(
            FormalProcedure(**flows.FORMAL_PROCEDURE) if item.formal_complaint else None
        ),
    )


@router.post(
    "/feedback",
    response_model=FeedbackCreated,
    status_code=201,
    summary="Tiếp nhận phản ánh, kiến nghị hoặc câu hỏi chuyển tiếp",
    responses=idempotent_responses(FeedbackCreated, 400, 401, 403, 409, 413),
    dependencies=[SubmissionLimit],
)
def submit(
    response: Response,
    body: FeedbackCreate,
    session: DbSession,
    principal: Service,
    settings: SettingsDep,
    calendar: CalendarDep,
    wake_worker: WakeWorker,
    wait: Annotated[float, Query(ge=0, le=10, description="Chờ định tuyến tối đa (giây)")] = 0,
) -> FeedbackCreated:
    if body.tracking_code and principal.role != "service":
        raise Forbidden("Chỉ trợ lý ảo (mã truy cập dịch vụ) được đặt trước mã theo dõi.")
    item, created = flows.take_in(
        session, data=body, actor=principal.actor, calendar=calendar,
        service_levels=settings.service_levels, public_url=settings.public_url,
    )
    session.commit()
    if not created:
        response.status_code = 200
    elif item.status == "new":
        wake_worker()
        deadline = time.monotonic() + wait
        while item.status == "new" and time.monotonic() < deadline:
            # End each read before sleeping: on SQLite an open transaction holds the only write
            # lock, and the worker could not record the routing this loop is waiting for.
            session.rollback()
            time.sleep(0.05)
            item = service.get_by_code(session, code=item.tracking_code)
    return _created(session, item)


@router.get("/status/{tracking_code}", response_model=FeedbackStatusPublic,
            responses=error_responses(404), dependencies=[StatusLimit],
            summary="Tra cứu trạng thái (công khai, không có dữ liệu cá nhân)")
def public_status(tracking_code: str, session: DbSession) -> FeedbackStatusPublic:
    return status_public(session, service.get_by_code(session, code=tracking_code))


@router.get("/feedback/{tracking_code}", response_model=FeedbackDetail,
            responses=error_responses(401, 403, 404),
            summary="Toàn bộ phản ánh và lịch sử xử lý (cán bộ)")
def get_item(tracking_code: str, session: DbSession, principal: Official) -> FeedbackDetail:
    item = _visible(principal, service.get_by_code(session, code=tracking_code))
    return detail(session, item)


@router.get("/feedback", response_model=FeedbackList, responses=error_responses(401, 403),
            summary="Danh sách phản ánh (hộp thư)")
def list_feedback(
    session: DbSession,
    principal: Official,
    status: Status | None = None,
    department: Annotated[str | None, Query(max_length=40)] = None,
    kind: Kind | None = None,
    commune: Annotated[str | None, Query(max_length=200)] = None,
    overdue: bool | None = None,
    needs_routing: bool | None = None,
    q: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> FeedbackList:
    filters = service.Filters(
        status=status, department=department, kind=kind, commune=commune, overdue=overdue,
        needs_routing=needs_routing, text=q, limit=limit, offset=offset,
        departments=None if principal.role != "liaison" else {principal.department or ""},
    )
    items, total, counts = service.list_items(session, filters=filters)
    return FeedbackList(total=total, counts=counts,
                        items=[status_public(session, i) for i in items])


@router.patch("/feedback/{tracking_code}", response_model=FeedbackDetail,
              responses=error_responses(400, 401, 403, 404, 409, 413),
              summary="Đổi trạng thái, chuyển cơ quan, mức ưu tiên")
def update_item(
    tracking_code: str, body: FeedbackUpdate, session: DbSession, principal: Official,
    settings: SettingsDep,
) -> FeedbackDetail:
    item = _visible(principal, service.get_by_code(session, code=tracking_code))
    if body.department is not None and body.department != item.department_code:
        if principal.role == "liaison" and body.department != CENTRAL:
            raise Forbidden(
                "Đầu mối chỉ có thể trả phản ánh về Văn phòng UBND tỉnh để phân loại lại."
            )
        flows.assign(session, item=item, department=body.department, actor=principal.actor,
                     public_url=settings.public_url, reason=body.reason)
    if body.status is not None and body.status != item.status:
        service.change_status(session, item=item, status=body.status, actor=principal.actor,
                              reason=body.reason)
    if body.priority is not None:
        service.set_priority(session, item=item, priority=body.priority, actor=principal.actor)
    session.commit()
    return detail(session, item)


@router.post("/feedback/{tracking_code}/reply", response_model=FeedbackDetail,
             responses=error_responses(400, 401, 403, 404, 409, 413),
             summary="Trả lời người dân (gửi qua kênh người dân đã dùng)")
def reply(
    tracking_code: str, body: TextBody, session: DbSession, principal: Official
) -> FeedbackDetail:
    item = _visible(principal, service.get_by_code(session, code=tracking_code))
    flows.reply(session, item=item, text=body.text, actor=principal.actor)
    session.commit()
    return detail(session, item)


@router.post("/feedback/{tracking_code}/notes", response_model=FeedbackDetail,
             responses=error_responses(400, 401, 403, 404, 413),
             summary="Ghi chú nội bộ")
def note(
    tracking_code: str, body: TextBody, session: DbSession, principal: Official
) -> FeedbackDetail:
    item = _visible(principal, service.get_by_code(session, code=tracking_code))
    service.add_note(session, item=item, text=body.text, actor=principal.actor)
    session.commit()
    return detail(session, item)


@router.post("/feedback/{tracking_code}/merge", response_model=FeedbackDetail,
             responses=error_responses(400, 401, 403, 404, 409, 413),
             summary="Gộp phản ánh trùng vào một phản ánh khác")
def merge(
    tracking_code: str, body: MergeBody, session: DbSession, principal: Official
) -> FeedbackDetail:
    item = _visible(principal, service.get_by_code(session, code=tracking_code))
    into = _visible(principal, service.get_by_code(session, code=body.into))
    service.merge(session, item=item, into=into, actor=principal.actor, reason=body.reason)
    session.commit()
    return detail(session, item)
