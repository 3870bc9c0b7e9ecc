"""Departments (public list, admin edits) and the routing preview (the classifier's decision)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, StringConstraints

from feedback_api.auth.service import audit
from feedback_api.departments import service, webhooks
from feedback_api.departments.orm import Department
from feedback_api.deps import Admin, AnyToken, ClassifierDep, DbSession, SettingsDep
from feedback_api.feedback.schemas import trimmed
from feedback_api.http import error_responses
from feedback_api.settings import Settings

router = APIRouter(prefix="/api/v1", tags=["departments"])
Text200 = trimmed(200, required=False)


class LiaisonPublic(BaseModel):
    name: str
    email: str
    zalo_user_id: str
    phone: str
    active: bool


class DepartmentPublic(BaseModel):
    code: str
    name: str
    mandate: str


class DepartmentDetail(DepartmentPublic):
    webhook_url: str | None
    webhook_secret_version: int
    # Shown once, in the answer that made it (first webhook URL, or a rotation); never again.
    webhook_secret: str | None = None
    liaisons: list[LiaisonPublic]


class LiaisonUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Text200 | None = None
    email: Annotated[
        str, StringConstraints(max_length=320, pattern=r"^([^@\s]+@[^@\s]+\.[^@\s]+)?$")
    ] | None = None
    zalo_user_id: Annotated[str, StringConstraints(max_length=100)] | None = None
    phone: Annotated[str, StringConstraints(max_length=30, pattern=r"^[0-9+ .-]*$")] | None = None
    active: bool | None = None


class DepartmentUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: trimmed(200) | None = None
    mandate: Annotated[str, StringConstraints(max_length=2000)] | None = None
    webhook_url: Annotated[
        str, StringConstraints(max_length=500, pattern=r"^(https?://\S+)?$")
    ] | None = None
    liaison: LiaisonUpdate | None = None


class RoutingRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: trimmed(5000)


class AlternativePublic(BaseModel):
    department: str
    score: float


class RoutingPreview(BaseModel):
    department: str
    confidence: float
    auto_routed: bool
    predicted: str
    reason: str
    formal_complaint: bool
    alternatives: list[AlternativePublic]


def _detail(dept: Department, secret: str | None = None) -> DepartmentDetail:
    return DepartmentDetail(
        code=dept.code, name=dept.name, mandate=dept.mandate, webhook_url=dept.webhook_url,
        webhook_secret_version=dept.webhook_secret_version or 0, webhook_secret=secret,
        liaisons=[LiaisonPublic.model_validate(li, from_attributes=True) for li in dept.liaisons],
    )


def new_secret(settings: Settings, dept: Department, before: int) -> str | None:
    """The department's webhook secret if its version changed since ``before``, else None."""
    version = dept.webhook_secret_version or 0
    if version == before or not version:
        return None
    return webhooks.department_secret(settings.key("webhook"), code=dept.code, version=version)


@router.get("/departments", response_model=list[DepartmentPublic], summary="Các cơ quan")
def list_departments(session: DbSession) -> list[DepartmentPublic]:
    return [DepartmentPublic(code=d.code, name=d.name, mandate=d.mandate)
            for d in service.list_departments(session)]


@router.get("/departments/{code}", response_model=DepartmentDetail,
            responses=error_responses(401, 403, 404),
            summary="Một cơ quan và đầu mối (quản trị)")
def get_department(code: str, session: DbSession, principal: Admin) -> DepartmentDetail:
    return _detail(service.get_department(session, code=code))


@router.patch("/departments/{code}", response_model=DepartmentDetail,
              responses=error_responses(400, 401, 403, 404, 413),
              summary="Sửa tên, nhiệm vụ, đầu mối của cơ quan (quản trị)")
def update_department(
    code: str, body: DepartmentUpdate, session: DbSession, principal: Admin,
    classifier: ClassifierDep, settings: SettingsDep,
) -> DepartmentDetail:
    before = service.get_department(session, code=code).webhook_secret_version or 0
    dept = service.update_department(
        session, code=code, name=body.name, mandate=body.mandate, webhook_url=body.webhook_url,
        liaison=body.liaison.model_dump(exclude_none=True) if body.liaison else None,
        allow_private_webhooks=settings.webhook_allow_private,
    )
    audit(session, actor=principal.actor, action="department.update", target=code,
          details=body.model_dump(exclude_none=True))
    session.commit()
    classifier.refresh()
    return _detail(dept, new_secret(settings, dept, before))


@router.post("/departments/{code}/webhook-secret", response_model=DepartmentDetail,
             responses=error_responses(401, 403, 404),
             summary="Tạo khóa ký webhook mới cho cơ quan (quản trị; khóa chỉ hiện một lần)")
def rotate_webhook_secret(
    code: str, session: DbSession, principal: Admin, settings: SettingsDep
) -> DepartmentDetail:
    before = service.get_department(session, code=code).webhook_secret_version or 0
    dept = service.rotate_webhook_secret(session, code=code)
    audit(session, actor=principal.actor, action="department.webhook_secret", target=code,
          details={"version": dept.webhook_secret_version})
    session.commit()
    return _detail(dept, new_secret(settings, dept, before))


@router.post("/routing/preview", response_model=RoutingPreview,
             responses=error_responses(400, 401, 403, 413),
             summary="Xem trước cơ quan sẽ nhận một nội dung")
def routing_preview(
    body: RoutingRequest, session: DbSession, principal: AnyToken, classifier: ClassifierDep
) -> RoutingPreview:
    # End this request's transaction first: building the classifier (first call) reads departments
    # in its own session and encodes for seconds, and on SQLite an open transaction here would
    # hold the only write lock all that time, or deadlock with that read.
    session.commit()
    decision = classifier.current().route(body.text)
    return RoutingPreview(
        department=decision.department,
        confidence=round(decision.confidence, 4),
        auto_routed=decision.auto_routed,
        predicted=decision.predicted,
        reason=decision.reason,
        formal_complaint=decision.formal_complaint,
        alternatives=[AlternativePublic(department=a.department, score=round(a.score, 4))
                      for a in decision.alternatives],
    )
