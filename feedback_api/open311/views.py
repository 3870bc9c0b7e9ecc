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
  phone numbers and email addresses in the text are masked. Every item still shows its service,
  status, agency and dates. Contact details and channel user ids are never shown.
- **Reading** (``GET requests.json``) is public. At most 90 days and 1,000 requests: a longer
  range is cut to its last 90 days, ``start_date`` alone means the 90 days from it, nothing
  means the last 90 days; ``service_request_id`` (comma list) overrides every other parameter.
  Rejected items (spam, abuse) are left out of the list.
- **Errors** are GeoReport lists ``[{"code": 400, "description": "…"}]`` with the same status:
  400 bad input, 401 no key, 403 bad key, 404 unknown service_code or request, 409 the same
  ``idempotency_key`` with other content; ``.xml`` is refused with 400 (only JSON is served).
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError
from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session
from starlette.exceptions import HTTPException

from feedback_api.auth.service import principal_for_token
from feedback_api.db import utcnow
from feedback_api.departments import service as departments
from feedback_api.departments.orm import Department
from feedback_api.deps import DbSession
from feedback_api.errors import DomainError
from feedback_api.feedback import flows, lifecycle, service
from feedback_api.feedback.orm import FeedbackItem
from feedback_api.feedback.schemas import URL, VISIBLE, FeedbackCreate

KINDS = {"complaint": "Phản ánh", "proposal": "Kiến nghị, đề xuất", "question": "Câu hỏi"}
KEYWORDS = {
    "complaint": "phản ánh, sự cố, bất cập",
    "proposal": "kiến nghị, đề xuất, góp ý chính sách",
    "question": "câu hỏi, hỏi đáp chính sách",
}
KEY_PREFIX = "open311:"  # marks items submitted through Open311 (whose text may be published)
MAX_RESULTS = 1000
WINDOW = timedelta(days=90)
SERVICE_CODE = r"^[a-z0-9-]{1,40}\.(complaint|proposal|question)$"
HIDDEN = "[đã ẩn]"
EMAIL = re.compile(r"[^\s@<>]+@[^\s@<>]+\.[A-Za-z]{2,}")
PHONE = re.compile(r"\+?\d[\d .-]{7,}\d")
COORDS = re.compile(r"^Tọa độ (-?\d+(?:\.\d+)?), (-?\d+(?:\.\d+)?)$", re.IGNORECASE)
FIELD_NAMES = {"text": "description", "location": "address_string", "attachments": "media_url",
               "sender_id": "account_id/device_id", "contact": "phone/first_name/last_name",
               "idempotency_key": "idempotency_key"}


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


router = APIRouter(prefix="/open311/v2", tags=["open311"], route_class=Open311Route)


class Open311Error(BaseModel):
    code: int
    description: str


class ServicePublic(BaseModel):
    service_code: str
    service_name: str
    description: str
    metadata: bool
    type: Literal["realtime", "batch", "blackbox"]
    keywords: str
    group: str


class RequestCreated(BaseModel):
    service_request_id: str
    service_notice: str
    account_id: None = None


class RequestPublic(BaseModel):
    service_request_id: str
    status: Literal["open", "closed"]
    status_notes: str
    service_name: str | None
    service_code: str | None
    description: str | None
    agency_responsible: str | None
    service_notice: str | None
    requested_datetime: datetime
    updated_datetime: datetime
    expected_datetime: datetime
    address: str | None
    lat: float | None
    long: float | None
    media_url: str | None


def _errors(*codes: int) -> dict:
    return {c: {"model": list[Open311Error], "description": "Lỗi theo GeoReport v2"} for c in codes}


def _text(max_length: int, pattern: str | None = None, description: str | None = None):
    return Annotated[str, StringConstraints(max_length=max_length, pattern=pattern),
                     Field(description=description)]


LATITUDE = Annotated[float, Field(strict=True, ge=-90, le=90)]
LONGITUDE = Annotated[float, Field(strict=True, ge=-180, le=180)]
DECIMALS = r"(\.[0-9]{1,12})?"
LATITUDE_TEXT = rf"^-?(90(\.0{{1,12}})?|[0-8]?[0-9]{DECIMALS})$"
LONGITUDE_TEXT = rf"^-?(180(\.0{{1,12}})?|(1[0-7][0-9]|[0-9]?[0-9]){DECIMALS})$"


class RequestSubmission(BaseModel):
    """What ``POST requests.json`` accepts, form-encoded or JSON (declared and enforced here)."""

    model_config = ConfigDict(extra="allow")
    api_key: _text(200, description="Mã truy cập (hoặc Authorization: Bearer)") | None = None
    jurisdiction_id: _text(200, description="Bỏ qua: chỉ có tỉnh Lào Cai") | None = None
    service_code: _text(80, SERVICE_CODE, "Mã dịch vụ từ services.json")
    description: Annotated[str, StringConstraints(min_length=1, max_length=5000, pattern=VISIBLE),
                           Field(description="Nội dung phản ánh")]
    address_string: _text(200) | None = None
    lat: LATITUDE | _text(20, LATITUDE_TEXT) | None = None
    long: LONGITUDE | _text(20, LONGITUDE_TEXT) | None = None
    media_url: _text(1000, URL) | None = None
    device_id: _text(200) | None = None
    account_id: _text(200) | None = None
    email: _text(320, description="Không lưu (không có trường email)") | None = None
    phone: _text(30, r"^(\+?[0-9][0-9 .-]{7,18}[0-9])?$", "Chỉ lưu khi consent=true") | None = None
    first_name: _text(99, description="Chỉ lưu khi consent=true") | None = None
    last_name: _text(99, description="Chỉ lưu khi consent=true") | None = None
    consent: bool = Field(False, description="Mở rộng: true nếu người dân đồng ý lưu liên hệ")
    idempotency_key: _text(190, r"^[A-Za-z0-9._:\-]+$",
                           "Mở rộng: gửi lại an toàn, không tạo trùng") | None = None


def _without_nulls(schema: dict) -> dict:
    """The same fields for a form, which carries only text: no nulls (optional fields are left
    out) and no numbers (coordinates are sent as decimal text)."""
    properties = {}
    for name, prop in schema["properties"].items():
        options = [o for o in prop.get("anyOf", []) if o.get("type") not in ("null", "number")]
        rest = {k: v for k, v in prop.items() if k not in ("anyOf", "default")}
        properties[name] = {**rest, **options[0]} if len(options) == 1 else (
            {**rest, "anyOf": options} if options else rest)
    return {**schema, "properties": properties}


SUBMIT_SCHEMA = RequestSubmission.model_json_schema()
SUBMIT_BODY = {"requestBody": {"required": True, "content": {
    "application/x-www-form-urlencoded": {"schema": _without_nulls(SUBMIT_SCHEMA)},
    "application/json": {"schema": SUBMIT_SCHEMA},
}}}


# --- reading the store (queries stay out of the routes) -------------------------------------

def _department_names(session: Session) -> dict[str, str]:
    return {d.code: d.name for d in departments.list_departments(session)}


def _items_by_codes(session: Session, codes: list[str]) -> list[FeedbackItem]:
    query = select(FeedbackItem).where(FeedbackItem.tracking_code.in_(codes))
    return list(session.scalars(query.order_by(FeedbackItem.created_at.desc())))


def _items_between(
    session: Session, *, start: datetime, end: datetime, services: list[tuple[str, str]],
    statuses: set[str],
) -> list[FeedbackItem]:
    conds = [FeedbackItem.created_at >= start, FeedbackItem.created_at <= end,
             FeedbackItem.status != "rejected"]
    if services:
        conds.append(or_(*(and_(FeedbackItem.department_code == d, FeedbackItem.kind == k)
                           for d, k in services)))
    open_ = FeedbackItem.status.in_(lifecycle.OPEN)
    if statuses == {"open"}:
        conds.append(open_)
    elif statuses == {"closed"}:
        conds.append(~open_)
    query = select(FeedbackItem).where(*conds).order_by(FeedbackItem.created_at.desc())
    return list(session.scalars(query.limit(MAX_RESULTS)))


# --- shapes ---------------------------------------------------------------------------------

def service_name(kind: str, department_name: str) -> str:
    return f"{KINDS[kind]} — {department_name}"


def _mask(text: str) -> str:
    return PHONE.sub(HIDDEN, EMAIL.sub(HIDDEN, text))


def _published(item: FeedbackItem) -> bool:
    return (item.idempotency_key.startswith(KEY_PREFIX) and not item.formal_complaint
            and item.status != "rejected")


def _coordinates(location: str | None) -> tuple[float | None, float | None]:
    match = COORDS.match(location or "")
    return (float(match[1]), float(match[2])) if match else (None, None)


def public_request(item: FeedbackItem, names: dict[str, str]) -> RequestPublic:
    dept = item.department_code
    shown = _published(item)
    lat, long = _coordinates(item.location) if shown else (None, None)
    notes = item.public_reply or lifecycle.LABELS[item.status]
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


# --- parsing what clients send ---------------------------------------------------------------

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


def _service(session: Session, code: str) -> tuple[str, str] | None:
    """(department, kind) of an existing service code, else None."""
    department, _, kind = code.strip().rpartition(".")
    if kind not in KINDS or session.get(Department, department) is None:
        return None
    return department, kind


def _coordinate(value: float | str | None, name: str, limit: float) -> float | None:
    if value is None or value == "":
        return None
    number = float(value)  # strings are plain decimals (checked by the model)
    if not -limit <= number <= limit:
        raise Open311Problem(400, f"{name} phải là số trong khoảng ±{limit:g}.")
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


def _feedback(sub: RequestSubmission, *, kind: str, client: str) -> tuple[FeedbackCreate, bool]:
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
        raise Open311Problem(400, f"Dữ liệu không hợp lệ: {', '.join(names)}.") from None


def _client(request: Request, session: Session, fields: dict[str, Any]):
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


def _notice(item: FeedbackItem, dept_name: str, dropped_contact: bool) -> str:
    parts = [f"Đã chuyển đến {dept_name}. Hạn xử lý: {item.due_at:%d/%m/%Y}."]
    if item.formal_complaint:
        parts.append(flows.FORMAL_PROCEDURE["text"])
    else:
        parts.append("Nội dung được công khai qua Open311 (đã che số điện thoại, email).")
    if dropped_contact:
        parts.append("Thông tin liên hệ không được lưu vì thiếu consent=true.")
    return " ".join(parts)


# --- routes -----------------------------------------------------------------------------------

@router.get("/services.json", response_model=list[ServicePublic],
            summary="Danh sách dịch vụ (loại phản ánh theo cơ quan)")
def list_services(session: DbSession) -> list[ServicePublic]:
    return [
        ServicePublic(service_code=f"{d.code}.{kind}", service_name=service_name(kind, d.name),
                      description=d.mandate, metadata=False, type="realtime",
                      keywords=KEYWORDS[kind], group=d.name)
        for d in departments.list_departments(session) for kind in KINDS
    ]


@router.post("/requests.json", status_code=201, response_model=list[RequestCreated],
             summary="Gửi phản ánh (GeoReport v2, form hoặc JSON)", openapi_extra=SUBMIT_BODY,
             responses={200: {"model": list[RequestCreated], "description": "Đã nhận trước đó"},
                        **_errors(400, 401, 403, 404, 409)})
def create_request(
    request: Request,
    response: Response,
    fields: Annotated[dict[str, Any], Depends(submitted_fields)],
    session: DbSession,
) -> list[RequestCreated]:
    principal = _client(request, session, fields)
    sub = _submission(fields)
    chosen = _service(session, sub.service_code)
    if chosen is None:
        raise Open311Problem(404, f"Không có dịch vụ '{sub.service_code}' (xem services.json).")
    department, kind = chosen
    data, dropped = _feedback(sub, kind=kind, client=principal.name)
    state = request.app.state
    formal = state.is_formal_complaint(data.text)
    item, created = service.create_feedback(
        session, data=data, actor=principal.actor, calendar=state.calendar,
        service_levels=state.settings.service_levels, formal_complaint=formal,
    )
    if created:
        target = departments.INSPECTORATE if formal else department
        reason = ("Khiếu nại/tố cáo: chuyển Thanh tra tỉnh theo thủ tục riêng." if formal
                  else f"Open311: bên gửi chọn dịch vụ {sub.service_code}.")
        flows.assign(session, item=item, department=target, actor=principal.actor,
                     public_url=state.settings.public_url, reason=reason)
    session.commit()
    if created:
        state.wake_worker()
    else:
        response.status_code = 200
    names = _department_names(session)
    notice = _notice(item, names.get(item.department_code or "", ""), dropped)
    return [RequestCreated(service_request_id=item.tracking_code, service_notice=notice)]


ONE_CODE = SERVICE_CODE.strip("^$")
CODE_LIST = rf"^{ONE_CODE}(,{ONE_CODE})*$"
STATUS_LIST = r"^(open|closed)(,(open|closed))*$"
RFC3339 = re.compile(
    r"^(\d{4}-\d{2}-\d{2})[Tt](\d{2}:\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$"
)
DateParam = Annotated[str | None, Query(max_length=40, json_schema_extra={"format": "date-time"})]


@router.get("/requests.json", response_model=list[RequestPublic],
            summary="Tra cứu phản ánh công khai (mặc định 90 ngày gần nhất, tối đa 1.000)",
            responses=_errors(400))
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
    names = _department_names(session)
    start, end = _date(start_date, "start_date"), _date(end_date, "end_date")  # always checked
    if service_request_id:  # per the standard, ids override every other parameter
        codes = [c.strip().upper() for c in service_request_id.split(",") if c.strip()]
        return [public_request(i, names) for i in _items_by_codes(session, codes)]
    services = [s for c in (service_code or "").split(",") if (s := _service(session, c))]
    if service_code and not services:
        return []
    if end is None:
        end = _shift(start, WINDOW) if start is not None else utcnow()
    earliest = _shift(end, -WINDOW)
    start = earliest if start is None else max(start, earliest)
    if start > end:
        return []
    items = _items_between(session, start=start, end=end, services=services,
                           statuses=set((status or "").split(",")) - {""})
    return [public_request(i, names) for i in items]


def _shift(moment: datetime, delta: timedelta) -> datetime:
    try:
        return moment + delta
    except OverflowError:
        return datetime.max.replace(tzinfo=UTC) if delta > timedelta(0) else datetime.min.replace(
            tzinfo=UTC)


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


@router.get("/requests/{service_request_id}.json", response_model=list[RequestPublic],
            summary="Một phản ánh (công khai, không có dữ liệu cá nhân)", responses=_errors(404))
def get_request(service_request_id: str, session: DbSession) -> list[RequestPublic]:
    item = service.get_by_code(session, code=service_request_id)
    return [public_request(item, _department_names(session))]


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
