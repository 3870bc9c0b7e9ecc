"""GET and DELETE /api/v1/personal-data: a citizen's data from every store, for admins only.

Both answer with the stores they covered and the ones skipped because this installation does
not configure them (``CAUNOI_TRACKER_STORE_URL``, ``CAUNOI_ACTIONS_OUTBOX``), and both write an
audit entry that names the citizen only by a keyed hash (registry.subject_ref).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Query, Request

from feedback_api.deps import Admin, DbSession, SettingsDep
from feedback_api.feedback.schemas import Channel
from feedback_api.http import error_responses
from feedback_api.privacy import holders, registry
from feedback_api.privacy.registry import Registry, Subject
from feedback_api.settings import Settings

router = APIRouter(prefix="/api/v1", tags=["personal data"])
AUDIT_KEY = "privacy-subject"  # settings.key purpose of the audit log's subject hash


def install(app: FastAPI, settings: Settings) -> None:
    """Build the registry of holders once (the tracker store's engine with it)."""
    app.state.privacy = holders.build(settings)
    app.include_router(router)


async def _registry(request: Request) -> Registry:
    return request.app.state.privacy


RegistryDep = Annotated[Registry, Depends(_registry)]
SenderId = Annotated[str, Query(min_length=1, max_length=200)]


@router.get("/personal-data", responses=error_responses(401, 403, 503),
            summary="Xuất dữ liệu cá nhân của một người dân từ mọi kho (quản trị)")
def export_personal_data(
    session: DbSession, principal: Admin, settings: SettingsDep,
    privacy: RegistryDep, channel: Channel, sender_id: SenderId,
) -> dict:
    body = registry.export(session, privacy, Subject(channel, sender_id),
                           actor=principal.actor, secret=settings.key(AUDIT_KEY))
    session.commit()
    return body


@router.delete("/personal-data", responses=error_responses(401, 403, 503),
               summary="Xóa dữ liệu cá nhân của một người dân khỏi mọi kho (quản trị)")
def erase_personal_data(
    session: DbSession, principal: Admin, settings: SettingsDep,
    privacy: RegistryDep, channel: Channel, sender_id: SenderId,
) -> dict:
    body = registry.erase(session, privacy, Subject(channel, sender_id),
                          actor=principal.actor, secret=settings.key(AUDIT_KEY))
    session.commit()
    return body
