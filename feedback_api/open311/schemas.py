"""GeoReport v2 shapes: what Open311 clients send (form-encoded or JSON) and receive."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import Query
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from feedback_api.feedback.schemas import URL, VISIBLE

KINDS = {"complaint": "Phản ánh", "proposal": "Kiến nghị, đề xuất", "question": "Câu hỏi"}
SERVICE_CODE = r"^[a-z0-9-]{1,40}\.(complaint|proposal|question)$"


class Open311Error(BaseModel):
    code: int
    description: str


def error_responses(*codes: int) -> dict:
    """OpenAPI ``responses`` for these statuses, as GeoReport error lists."""
    return {c: {"model": list[Open311Error], "description": "Lỗi theo GeoReport v2"} for c in codes}


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

# Query parameters of GET requests.json
ONE_CODE = SERVICE_CODE.strip("^$")
CODE_LIST = rf"^{ONE_CODE}(,{ONE_CODE})*$"
STATUS_LIST = r"^(open|closed)(,(open|closed))*$"
DateParam = Annotated[str | None, Query(max_length=40, json_schema_extra={"format": "date-time"})]
