"""POST /api/v1/answers/votes (the assistant) and GET /api/v1/answers/votes/summary (officials)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Response

from feedback_api.answers import service
from feedback_api.answers.schemas import VoteCreate, VoteRecorded, VoteSummary
from feedback_api.deps import DbSession, Official, Service, SettingsDep
from feedback_api.errors import Invalid
from feedback_api.http import error_responses, idempotent_responses
from feedback_api.ratelimit import VoteLimit

router = APIRouter(prefix="/api/v1/answers", tags=["answers"])


@router.post(
    "/votes",
    response_model=VoteRecorded,
    status_code=201,
    summary="Ghi nhận đánh giá của người dân về câu trả lời",
    responses=idempotent_responses(VoteRecorded, 400, 401, 403, 409, 413),
    dependencies=[VoteLimit],
)
def record_vote(
    response: Response, body: VoteCreate, session: DbSession, principal: Service,
    settings: SettingsDep,
) -> VoteRecorded:
    vote, created = service.record_vote(session, data=body, secret=settings.key("voter"))
    session.commit()
    if not created:
        response.status_code = 200
    return VoteRecorded(id=vote.id, helpful=vote.helpful, created_at=vote.created_at)


@router.get(
    "/votes/summary",
    response_model=VoteSummary,
    responses=error_responses(401, 403),
    summary="Thống kê đánh giá câu trả lời theo điều luật (cán bộ)",
)
def vote_summary(
    session: DbSession,
    principal: Official,
    since: Annotated[datetime | None, Query(description="Chỉ tính từ thời điểm này")] = None,
    limit: Annotated[int, Query(ge=1, le=200, description="Số điều luật tối đa")] = 20,
) -> VoteSummary:
    if since is not None and since.tzinfo is None:
        raise Invalid("Thời điểm 'since' cần có múi giờ (ví dụ 2026-01-01T00:00:00+07:00).")
    if since is not None:
        try:
            since = since.astimezone(UTC)
        except OverflowError:  # year 1 or 9999 with a far offset: no UTC equivalent
            since = None if since.year < 5000 else datetime.max.replace(tzinfo=UTC)
    return service.summary(session, since=since, limit=limit)
