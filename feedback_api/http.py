"""HTTP guards and error shapes of the whole app, in one place.

Guards: the body-size limit (counted while the body streams in), the refusal of NUL characters
and of repeated query parameters, and the security headers of every response.
Errors: every error of the JSON API is ``ErrorPublic`` (one Vietnamese sentence; validation
adds ``errors``), framework messages are translated, domain errors (errors.py) get their
status, and the OpenAPI document declares 422 bodies as they are sent. Open311 keeps
GeoReport's own error shape (open311/views.py).
"""

from __future__ import annotations

import html
import re
import weakref
from math import ceil

import anyio
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel
from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from feedback_api.errors import DomainError

FRAMEWORK_MESSAGES = {
    "There was an error parsing the body": "Không đọc được nội dung gửi lên (JSON không hợp lệ).",
    "Not Found": "Không tìm thấy địa chỉ này.",
    "Method Not Allowed": "Địa chỉ này không hỗ trợ phương thức này.",
}
BODY_METHODS = ("POST", "PUT", "PATCH", "DELETE")
DRAIN_LIMIT = 20_000_000  # announced sizes above this get the 413 and a closed connection
DRAIN_SECONDS = 5.0  # longest wait for an announced oversized body before the 413
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
    429: "Gửi quá nhiều yêu cầu (xem Retry-After)",
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


def has_nul(scope: Scope, body: bytes) -> bool:
    """A NUL character anywhere in the input (PostgreSQL text cannot store it)."""
    query = scope.get("query_string", b"")
    form = "urlencoded" in Headers(scope=scope).get("content-type", "")
    escaped = b"%00" in body if form else JSON_NUL.search(body) is not None
    return "\x00" in scope["path"] or b"%00" in query or b"\x00" in body or escaped


def _refusal(scope: Scope, status: int, message: str, *, close: bool = False) -> JSONResponse:
    """An error from the guards, in GeoReport's shape under /open311/."""
    headers = {"Connection": "close"} if close else None
    if scope["path"].startswith("/open311/"):
        content: object = [{"code": status, "description": message}]
    else:
        content = {"detail": message}
    return JSONResponse(status_code=status, content=content, headers=headers)


class BodyGuard:
    """413 for bodies over ``MAX_BODY``, counted as they arrive; a clear 4xx for NUL characters.

    Pure ASGI, so nothing reads the body before it, and at most ``MAX_BODY`` bytes are ever
    held: a chunked body is refused as soon as its bytes pass the cap (the server discards the
    rest); a body that announces too much is read and dropped as it arrives, then refused (so
    a client that sends everything before reading sees the 413), unless it announces more
    than ``DRAIN_LIMIT``: then the 413 closes the connection at once.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        size = Headers(scope=scope).get("content-length")
        if size is not None and (not size.isdigit() or int(size) > MAX_BODY):
            huge = not size.isdigit() or int(size) > DRAIN_LIMIT
            drained = False
            if not huge:
                # Read and drop it (nothing is kept), for at most DRAIN_SECONDS: a client that
                # sends its whole body before reading the answer then sees the 413 rather than
                # a reset; one that announces a body it never sends cannot hold the request.
                with anyio.move_on_after(DRAIN_SECONDS):
                    while (message := await receive())["type"] == "http.request" and (
                        message.get("more_body", False)
                    ):
                        pass
                    if message["type"] == "http.disconnect":
                        return
                    drained = True
            await _refusal(scope, 413, TOO_LARGE, close=not drained)(scope, receive, send)
            return
        body = b""
        if scope["method"] in BODY_METHODS:
            chunks: list[bytes] = []
            received, more = 0, True
            while more:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return  # the client went away: nobody to answer
                chunk = message.get("body", b"")
                received += len(chunk)
                if received > MAX_BODY:
                    await _refusal(scope, 413, TOO_LARGE)(scope, receive, send)
                    return
                chunks.append(chunk)
                more = message.get("more_body", False)
            body = b"".join(chunks)
        if has_nul(scope, body):
            open311 = scope["path"].startswith("/open311/")  # GeoReport says 400 there
            await _refusal(scope, 400 if open311 else 422, HAS_NUL)(scope, receive, send)
            return
        if scope["method"] not in BODY_METHODS:
            await self.app(scope, receive, send)
            return
        replayed = False

        async def replay() -> Message:
            """The body read above, then whatever the server says next (a disconnect)."""
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


# Our pages load only their own files (chat.js, the style sheets): no inline script or style.
# Images may come from https (an image the assistant sends). Nothing may frame a page.
CSP = ("default-src 'self'; img-src 'self' data: https:; object-src 'none'; base-uri 'none'; "
       "form-action 'self'; frame-ancestors 'none'")
# FastAPI's /docs and /redoc pages load Swagger UI and ReDoc from a CDN and start them with an
# inline script. They show only the public OpenAPI document and put no input into the page,
# so they get their own looser policy (still never framed); see docs/operations.md.
CDN = "https://cdn.jsdelivr.net"
DOCS_CSP = (f"default-src 'self'; script-src 'self' 'unsafe-inline' {CDN}; "
            f"style-src 'self' 'unsafe-inline' {CDN} https://fonts.googleapis.com; "
            "font-src 'self' https://fonts.gstatic.com; img-src 'self' data: https:; "
            "worker-src 'self' blob:; object-src 'none'; base-uri 'none'; "
            "frame-ancestors 'none'")
DOCS_PATHS = ("/docs", "/docs/oauth2-redirect", "/redoc")
HSTS = "max-age=31536000"  # a year; no includeSubDomains: the province's other hosts are theirs
INBOX_COOKIE = b"caunoi_inbox="  # inbox/sessions.py COOKIE: a session makes a response private


def _private(scope: Scope) -> bool:
    """Responses that must not be kept by a browser or proxy: the inbox, the personal-data API,
    the chat's answers to one citizen, and anything sent to a bearer token or an inbox
    session."""
    path = scope["path"]
    if path.startswith(("/inbox/", "/api/v1/personal-data", "/chat/api/")) or path == "/inbox":
        return not path.startswith("/inbox/static/")
    headers = Headers(scope=scope)
    return "authorization" in headers or INBOX_COOKIE in headers.get("cookie", "").encode()


class SecurityHeaders:
    """CSP, nosniff, referrer policy and no framing on every response; ``no-store`` on private
    ones; HSTS in production (``settings.production``, read from the running app's services)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        private = _private(scope)
        services = getattr(scope["app"].state, "services", None) if "app" in scope else None
        production = services is not None and services.settings.production
        csp = DOCS_CSP if scope["path"] in DOCS_PATHS else CSP

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("Content-Security-Policy", csp)
                headers["X-Content-Type-Options"] = "nosniff"
                headers["X-Frame-Options"] = "DENY"
                headers.setdefault("Referrer-Policy", "same-origin")
                if private:
                    headers["Cache-Control"] = "no-store"
                if production:
                    headers["Strict-Transport-Security"] = HSTS
            await send(message)

        await self.app(scope, receive, send_with_headers)


class TooManyRequests(Exception):
    """A rate limit is spent (ratelimit.py): 429 with ``Retry-After``.

    Not an ``HTTPException``: Open311's routes turn those into GeoReport errors and would drop
    the ``Retry-After`` header; this one reaches ``too_many_requests`` from every route.
    """

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"retry after {retry_after} s")
        self.retry_after = retry_after


def wait_message(seconds: int) -> str:
    """The Vietnamese sentence of a 429, with the wait in a unit a citizen reads at a glance."""
    if seconds < 120:
        wait = f"{seconds} giây"
    elif seconds < 7200:
        wait = f"{ceil(seconds / 60)} phút"
    else:
        wait = f"{ceil(seconds / 3600)} giờ"
    return f"Bạn gửi quá nhiều yêu cầu. Vui lòng thử lại sau {wait}."


async def too_many_requests(request: Request, exc: TooManyRequests) -> Response:
    """JSON for the API, GeoReport's shape under /open311/, a small page for a browser."""
    message = wait_message(exc.retry_after)
    headers = {"Retry-After": str(exc.retry_after)}
    if request.url.path.startswith("/open311/"):
        return JSONResponse(status_code=429, headers=headers,
                            content=[{"code": 429, "description": message}])
    if "text/html" in request.headers.get("accept", ""):
        page = ('<!doctype html><html lang="vi"><head><meta charset="utf-8">'
                '<title>Quá nhiều yêu cầu · Cầu Nối</title></head>'
                f'<body><p>{html.escape(message)}</p></body></html>')
        return HTMLResponse(page, status_code=429, headers=headers)
    return JSONResponse(status_code=429, content={"detail": message}, headers=headers)


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
    app.add_middleware(BodyGuard)
    app.add_middleware(SecurityHeaders)  # outermost: the guard's refusals get the headers too
    app.add_exception_handler(StarletteHTTPException, framework_error)
    app.add_exception_handler(DomainError, domain_error)
    app.add_exception_handler(TooManyRequests, too_many_requests)
    app.add_exception_handler(RequestValidationError, invalid_request)
    document_errors(app)
