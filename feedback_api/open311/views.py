"""Open311 GeoReport v2 (JSON only) over the feedback store.

Choices, where the standard leaves room or does not fit a feedback service:

- **Services** are feedback kinds per department: ``service_code`` is ``"{department}.{kind}"``
  (e.g. ``xay-dung.complaint``), ``group`` is the department's name.
- **Submitting** (``POST requests.json``) needs a service token, as ``api_key`` or as
  ``Authorization: Bearer`` (the header wins when both are sent). The client chose the department,
  so the item is assigned to it directly (no automatic routing); a formal complaint or
  denunciation still goes to Thanh tra tỉnh, as on every other channel, and the notice says why.
- **Consent.** GeoReport has no consent field, so ``first_name``/``last_name``/``phone`` are kept
  only with the extension field ``consent=true``; otherwise they are dropped and the notice says
  so. ``email`` is never kept: the store has no email column, replies go back over the channel.
  ``account_id`` (or else ``device_id``) becomes the channel user id, through which the client
  fetches replies and the citizen can ask for export or erasure.
- **Idempotency.** The extension field ``idempotency_key`` makes resends safe; without it the key
  is a hash of the token's name and every submitted field, so an identical resend returns the
  item already stored (status 200 instead of 201).
- **Publishing.** Requests are public in GeoReport, but citizens who wrote on Zalo, Messenger or
  the web chat did not agree to publish their words. So ``description``, ``address`` and
  ``media_url`` are shown only for items submitted through Open311 itself, never for formal
  complaints (they name officials and follow a confidential procedure) or rejected items, and
  phone numbers and email addresses in the text are masked. An item asked for by its code still
  shows its service, status, agency and dates. Contact details and channel user ids are never
  shown.
- **Reading** (``GET requests.json``) is public, so it lists only what was published: items
  that came in through Open311 itself, never formal complaints or denunciations, never rejected
  items (spam, abuse). At most 90 days and 1,000 requests: a longer range is cut to its last 90
  days, ``start_date`` alone means the 90 days from it, nothing means the last 90 days. A list
  never carries a reply (``status_notes`` is the status label): a reply was written to one
  citizen, and a list would hand out every tracking code with it.
- **By code.** ``requests/{code}.json``, and ``service_request_id`` (a comma list of at most 20
  codes, which overrides every other parameter of ``requests.json``), answer whoever holds the
  codes, from any channel, with the official's reply in ``status_notes``. The code is the
  citizen's key: the service gave it only to the sender, it is unguessable (40 random bits), and
  the id lookup is the same question as asking for each code in turn, so it is treated the same
  way, with a small cap so that one request cannot try hundreds of guesses.
- **Errors** are GeoReport lists ``[{"code": 400, "description": "…"}]`` with the same status:
  400 bad input, 401 no key, 403 bad key, 404 unknown service_code or request, 409 the same
  ``idempotency_key`` with other content; ``.xml`` is refused with 400 (only JSON is served).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import ValidationError
from sqlalchemy.orm import Session
from starlette.exceptions import HTTPException

from feedback_api.auth.service import Principal, principal_for_token
from feedback_api.departments import service as departments
from feedback_api.deps import CalendarDep, DbSession, SettingsDep, WakeWorker
from feedback_api.errors import DomainError
from feedback_api.feedback import flows
from feedback_api.feedback import service as feedback
from feedback_api.open311 import service
from feedback_api.open311.schemas import (
    CODE_LIST,
    STATUS_LIST,
    SUBMIT_BODY,
    DateParam,
    RequestCreated,
    RequestPublic,
    RequestSubmission,
    ServicePublic,
    error_responses,
)
from feedback_api.ratelimit import Open311CodeLimit, Open311Limit, Open311SubmissionLimit

RFC3339 = re.compile(
    r"^(\d{4}-\d{2}-\d{2})[Tt](\d{2}:\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$"
)


class Open311Problem(Exception):
    def __init__(self, code: int, description: str) -> None:
        super().__init__(description)
        self.code, self.description = code, description


def problem(code: int, description: str) -> JSONResponse:
    return JSONResponse(status_code=code, content=[{"code": code, "description": description}])


class Open311Route(APIRoute):
    """Every error of these routes, including validation and auth, in GeoReport's shape."""

    def get_route_handler(self):
        handler = super().get_route_handler()

        async def route(request: Request):
            try:
                return await handler(request)
            except Open311Problem as exc:
                return problem(exc.code, exc.description)
            except RequestValidationError as exc:
                names = ", ".join(str(e["loc"][-1]) for e in exc.errors())
                return problem(400, f"Tham số không hợp lệ: {names or 'yêu cầu'}.")
            except DomainError as exc:
                return problem(400 if exc.status == 422 else exc.status, exc.message)
            except HTTPException as exc:
                return problem(exc.status_code, str(exc.detail))

        return route


router = APIRouter(prefix="/open311/v2", tags=["open311"], route_class=Open311Route,
                   dependencies=[Open311Limit])


# --- reading what clients send ----------------------------------------------------------------

async def submitted_fields(request: Request) -> dict[str, Any]:
    """The POST body as a dict, form-encoded (the standard) or JSON."""
    ctype = request.headers.get("content-type", "").lower()
    try:
        if "json" in ctype:
            data = await request.json()
        else:
            data = dict((await request.form()).items())
    except (ValueError, UnicodeDecodeError, AssertionError):
        raise Open311Problem(400, "Không đọc được nội dung gửi lên (JSON hoặc form).") from None
    if not isinstance(data, dict):
        raise Open311Problem(400, "Nội dung JSON phải là một đối tượng.")
    return data


def _submission(data: dict[str, Any]) -> RequestSubmission:
    try:
        return RequestSubmission.model_validate(data)
    except ValidationError as exc:
        names = sorted({str(e["loc"][0]) for e in exc.errors() if e["loc"]})
        if names == ["service_code"] and isinstance(data.get("service_code"), str):
            raise Open311Problem(400, "service_code không đúng dạng (xem services.json).") from None
        raise Open311Problem(400, f"Dữ liệu không hợp lệ: {', '.join(names)}.") from None


def _client(request: Request, session: Session, fields: dict[str, Any]) -> Principal:
    header = request.headers.get("authorization", "")
    scheme, _, bearer = header.partition(" ")
    token = bearer.strip() if scheme.lower() == "bearer" and bearer.strip() else None
    key = fields.get("api_key")
    token = token or (key.strip() if isinstance(key, str) else None)
    if not token:
        raise Open311Problem(401, "Thiếu api_key (hoặc Authorization: Bearer).")
    principal = principal_for_token(session, token=token)
    if principal is None:
        raise Open311Problem(403, "api_key không hợp lệ hoặc đã bị thu hồi.")
    if principal.role not in ("service", "admin"):
        raise Open311Problem(403, "api_key này không được phép gửi phản ánh.")
    return principal


def _date(raw: str | None, name: str) -> datetime | None:
    """An RFC 3339 date-time (W3C), in UTC; out-of-range offsets are clamped. An empty value
    is not a date (leave the parameter out to mean "no bound")."""
    if raw is None:
        return None
    if not raw.strip():
        raise Open311Problem(400, f"{name} để trống: hãy bỏ tham số này nếu không lọc theo ngày.")
    # An unencoded "+07:00" in a query string arrives as " 07:00".
    match = RFC3339.match(re.sub(r" (\d{2}:\d{2})$", r"+\1", raw))
    if match is None:
        raise Open311Problem(400, f"{name} phải theo dạng W3C, ví dụ 2025-01-31T08:00:00+07:00.")
    day, hour_minute, second, fraction, offset = match.groups()
    second = min(int(second), 59)  # a leap second is read as :59
    text = f"{day}T{hour_minute}:{second:02d}{(fraction or '')[:7]}"
    try:
        value = datetime.fromisoformat(text + ("+00:00" if offset in "Zz" else offset))
    except ValueError:
        raise Open311Problem(400, f"{name} không phải ngày giờ có thật.") from None
    try:
        return value.astimezone(UTC)
    except OverflowError:
        return (datetime.min if value.year == 1 else datetime.max).replace(tzinfo=UTC)


# --- routes -----------------------------------------------------------------------------------

@router.get("/services.json", response_model=list[ServicePublic],
            summary="Danh sách dịch vụ (loại phản ánh theo cơ quan)")
def list_services(session: DbSession) -> list[ServicePublic]:
    return service.list_services(session)


@router.post("/requests.json", status_code=201, response_model=list[RequestCreated],
             summary="Gửi phản ánh (GeoReport v2, form hoặc JSON)", openapi_extra=SUBMIT_BODY,
             dependencies=[Open311SubmissionLimit],
             responses={200: {"model": list[RequestCreated], "description": "Đã nhận trước đó"},
                        **error_responses(400, 401, 403, 404, 409)})
def create_request(
    request: Request,
    response: Response,
    fields: Annotated[dict[str, Any], Depends(submitted_fields)],
    session: DbSession,
    settings: SettingsDep,
    calendar: CalendarDep,
    wake_worker: WakeWorker,
) -> list[RequestCreated]:
    principal = _client(request, session, fields)
    sub = _submission(fields)
    chosen = service.find_service(session, code=sub.service_code)
    if chosen is None:
        raise Open311Problem(404, f"Không có dịch vụ '{sub.service_code}' (xem services.json).")
    department, kind = chosen
    data, dropped = service.as_feedback(sub, kind=kind, client=principal.name)
    item, created = flows.take_in(
        session, data=data, actor=principal.actor, calendar=calendar,
        service_levels=settings.service_levels, public_url=settings.public_url,
        department=department, reason=f"Open311: bên gửi chọn dịch vụ {sub.service_code}.",
    )
    session.commit()
    if created:
        wake_worker()
    else:
        response.status_code = 200
    names = departments.department_names(session)
    notice = service.notice(item, names.get(item.department_code or "", ""), dropped)
    return [RequestCreated(service_request_id=item.tracking_code, service_notice=notice)]


@router.get("/requests.json", response_model=list[RequestPublic],
            summary="Tra cứu phản ánh công khai (mặc định 90 ngày gần nhất, tối đa 1.000)",
            responses=error_responses(400), dependencies=[Open311CodeLimit])
def list_requests(
    session: DbSession,
    service_request_id: Annotated[str | None, Query(max_length=2000)] = None,
    service_code: Annotated[str | None, Query(max_length=2000, pattern=CODE_LIST)] = None,
    start_date: DateParam = None,
    end_date: DateParam = None,
    status: Annotated[str | None, Query(max_length=20, pattern=STATUS_LIST)] = None,
    jurisdiction_id: Annotated[str | None, Query(max_length=200)] = None,
) -> list[RequestPublic]:
    """At most 90 days: the range asked for is cut to its last 90 days; start alone means the
    90 days from start; nothing means the last 90 days."""
    start, end = _date(start_date, "start_date"), _date(end_date, "end_date")  # always checked
    if service_request_id:  # per the standard, ids override every other parameter
        return service.requests_by_ids(session, ids=service_request_id)
    return service.requests_between(session, start=start, end=end, service_codes=service_code,
                                    statuses=set((status or "").split(",")) - {""})


@router.get("/requests/{service_request_id}.json", response_model=list[RequestPublic],
            summary="Một phản ánh (công khai, không có dữ liệu cá nhân)",
            responses=error_responses(404), dependencies=[Open311CodeLimit])
def get_request(service_request_id: str, session: DbSession) -> list[RequestPublic]:
    item = feedback.get_by_code(session, code=service_request_id)
    return [service.public_request(item, departments.department_names(session), holder=True)]


def _only_json(fmt: str) -> Any:
    raise Open311Problem(400, f"Chỉ hỗ trợ định dạng JSON (.json), không hỗ trợ .{fmt[:10]}.")


@router.get("/services.{fmt}", include_in_schema=False)
def services_other_format(fmt: str) -> Any:
    return _only_json(fmt)


@router.api_route("/requests.{fmt}", methods=["GET", "POST"], include_in_schema=False)
def requests_other_format(fmt: str) -> Any:
    return _only_json(fmt)


@router.get("/requests/{service_request_id}.{fmt}", include_in_schema=False)
def request_other_format(service_request_id: str, fmt: str) -> Any:
    return _only_json(fmt)
