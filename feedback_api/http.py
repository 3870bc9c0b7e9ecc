"""HTTP guards and error shapes of the whole app, in one place.

Guards: the body-size limit, the refusal of NUL characters and of repeated query parameters.
Errors: every error of the JSON API is ``ErrorPublic`` (one Vietnamese sentence; validation
adds ``errors``), framework messages are translated, domain errors (errors.py) get their
status, and the OpenAPI document declares 422 bodies as they are sent. Open311 keeps
GeoReport's own error shape (open311/views.py).
"""

from __future__ import annotations

import re
import weakref

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from feedback_api.errors import DomainError

FRAMEWORK_MESSAGES = {
    "There was an error parsing the body": "Không đọc được nội dung gửi lên (JSON không hợp lệ).",
    "Not Found": "Không tìm thấy địa chỉ này.",
    "Method Not Allowed": "Địa chỉ này không hỗ trợ phương thức này.",
}
DRAIN_LIMIT = 20_000_000  # larger bodies get the 413 without being read
MAX_BODY = 1_000_000  # bytes; feedback text is capped at 5,000 characters anyway
JSON_NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")  # an escaped NUL, not an escaped backslash
TOO_LARGE = "Nội dung gửi lên quá lớn."
HAS_NUL = "Dữ liệu gửi lên chứa ký tự NUL (\\u0000), không được chấp nhận."


class ErrorPublic(BaseModel):
    """Every error of the JSON API: one Vietnamese sentence (validation adds ``errors``)."""

    detail: str
    errors: list[dict] | None = None


ERROR_MEANINGS = {
    400: "Không đọc được nội dung gửi lên",
    401: "Thiếu hoặc sai mã truy cập",
    403: "Không có quyền",
    404: "Không tìm thấy",
    409: "Xung đột trạng thái hoặc khóa idempotency_key",
    413: "Nội dung gửi lên quá lớn",
    422: "Dữ liệu không hợp lệ",
    503: "Dịch vụ tạm thời chưa sẵn sàng",
}


def error_responses(*codes: int) -> dict[int | str, dict]:
    """OpenAPI ``responses`` for these error statuses, all shaped like ``ErrorPublic``."""
    return {code: {"model": ErrorPublic, "description": ERROR_MEANINGS[code]} for code in codes}


def idempotent_responses(model: type[BaseModel], *codes: int) -> dict[int | str, dict]:
    """A create route's ``responses``: 200 with ``model`` for a resend under the same
    idempotency key (the first send answers 201), then these error statuses."""
    resent = {"model": model, "description": "Đã nhận trước đó (cùng khóa)"}
    return {200: resent, **error_responses(*codes)}


# id(route) -> (weak reference to the route, names). Starlette routes define __eq__ and so
# cannot be dictionary keys; the weak reference tells a reused id from the same route.
_QUERY_NAMES: dict[int, tuple[weakref.ref, frozenset[str]]] = {}


def declared_query_names(route) -> frozenset[str]:
    """The query parameters a route declares, its dependencies' included (computed once)."""
    cached = _QUERY_NAMES.get(id(route))
    if cached is not None and cached[0]() is route:
        return cached[1]
    found: set[str] = set()
    pending = [route.dependant]
    while pending:
        current = pending.pop()
        found.update(p.alias for p in current.query_params)
        pending.extend(current.dependencies)
    names = frozenset(found)
    _QUERY_NAMES[id(route)] = (weakref.ref(route), names)
    return names


def single_valued_query(request: Request) -> None:
    """A declared query parameter sent twice is an error, not "the last one wins": the schema
    says each is one value, and a silently dropped value would be a silently different query."""
    route = request.scope.get("route")
    if getattr(route, "dependant", None) is None or not request.query_params:
        return
    repeated = sorted(k for k in declared_query_names(route)
                      if len(request.query_params.getlist(k)) > 1)
    if repeated:
        raise RequestValidationError([
            {"loc": ("query", name), "msg": "Tham số chỉ được gửi một lần.", "type": "value_error"}
            for name in repeated
        ])


def has_nul(request: Request, body: bytes) -> bool:
    """A NUL character anywhere in the input (PostgreSQL text cannot store it)."""
    query = request.scope.get("query_string", b"")
    form = "urlencoded" in request.headers.get("content-type", "")
    escaped = b"%00" in body if form else JSON_NUL.search(body) is not None
    return "\x00" in request.url.path or b"%00" in query or b"\x00" in body or escaped


async def limit_body(request: Request, call_next):
    """413 for bodies over ``MAX_BODY``; a clear 4xx for NUL characters anywhere."""
    size = request.headers.get("content-length")
    if size is not None and (not size.isdigit() or int(size) > MAX_BODY):
        if size.isdigit() and int(size) <= DRAIN_LIMIT:
            # Read and drop the body, so the client sees the 413 rather than a reset.
            async for _ in request.stream():
                pass
        return JSONResponse(status_code=413, content={"detail": TOO_LARGE})
    body = b""
    if request.method in ("POST", "PUT", "PATCH", "DELETE"):
        body = await request.body()  # at most MAX_BODY, or chunked: checked below
    if len(body) > MAX_BODY:
        return JSONResponse(status_code=413, content={"detail": TOO_LARGE})
    if has_nul(request, body):
        if request.url.path.startswith("/open311/"):  # GeoReport's error shape there
            return JSONResponse(status_code=400, content=[{"code": 400, "description": HAS_NUL}])
        return JSONResponse(status_code=422, content={"detail": HAS_NUL})
    return await call_next(request)


async def framework_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    """Framework errors in the same shape as ours, and in Vietnamese."""
    detail = FRAMEWORK_MESSAGES.get(exc.detail, exc.detail)
    return JSONResponse(status_code=exc.status_code, content={"detail": detail},
                        headers=getattr(exc, "headers", None))


async def domain_error(request: Request, exc: DomainError) -> JSONResponse:
    return JSONResponse(status_code=exc.status, content={"detail": exc.message})


async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
    fields = ", ".join(".".join(str(p) for p in e["loc"][1:]) for e in exc.errors())
    return JSONResponse(
        status_code=422,
        content={
            "detail": f"Dữ liệu không hợp lệ ở: {fields or 'yêu cầu'}.",
            "errors": [{"loc": list(e["loc"]), "msg": e["msg"]} for e in exc.errors()],
        },
    )


def document_errors(app: FastAPI) -> None:
    """Declare 422 bodies as they are sent (``invalid_request``), not FastAPI's default shape."""
    build = app.openapi

    def openapi() -> dict:
        if app.openapi_schema is None:
            schema = build()
            components = schema.get("components", {}).get("schemas", {})
            if "HTTPValidationError" in components:
                components["HTTPValidationError"] = ErrorPublic.model_json_schema()
                components.pop("ValidationError", None)
        return app.openapi_schema

    app.openapi = openapi


def install(app: FastAPI) -> None:
    """The body guard, the exception handlers and the documented error shape.

    ``single_valued_query`` is an app-wide dependency instead (it needs the matched route).
    """
    app.middleware("http")(limit_body)
    app.add_exception_handler(StarletteHTTPException, framework_error)
    app.add_exception_handler(DomainError, domain_error)
    app.add_exception_handler(RequestValidationError, invalid_request)
    document_errors(app)
