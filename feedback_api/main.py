"""The FastAPI application factory: wiring only; nothing happens at import time."""

from __future__ import annotations

import json
import logging
import re
import threading
import weakref
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from feedback_api.db import Database
from feedback_api.errors import DomainError
from feedback_api.feedback.calendar import WorkCalendar
from feedback_api.settings import Settings

log = logging.getLogger("feedback_api")
FRAMEWORK_MESSAGES = {
    "There was an error parsing the body": "Không đọc được nội dung gửi lên (JSON không hợp lệ).",
    "Not Found": "Không tìm thấy địa chỉ này.",
    "Method Not Allowed": "Địa chỉ này không hỗ trợ phương thức này.",
}
DRAIN_LIMIT = 20_000_000  # larger bodies get the 413 without being read
MAX_BODY = 1_000_000  # bytes; feedback text is capped at 5,000 characters anyway
JSON_NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")  # an escaped NUL, not an escaped backslash


class RouterHolder:
    """Builds the department router on first use and again after admins edit departments."""

    def __init__(self, db: Database, settings: Settings, searcher) -> None:
        self.db, self.settings, self.searcher = db, settings, searcher
        self._router = None
        self._lock = threading.Lock()

    def __call__(self):
        router = self._router
        if router is not None:
            return router
        # Departments are read before taking the lock: a caller holding the lock must never
        # wait for the database (SQLite: one writer) while a database holder waits for the lock.
        profiles = self._profiles()
        with self._lock:
            if self._router is None:
                self._router = self._build(profiles)
            return self._router

    def refresh(self) -> None:
        with self._lock:
            self._router = None

    def _profiles(self) -> list:
        from feedback_api.departments import service as departments
        from feedback_api.departments.routing import DepartmentProfile

        with self.db.session() as session:
            return [
                DepartmentProfile(code=d.code, name=d.name, mandate=d.mandate)
                for d in departments.list_departments(session)
            ]

    def _build(self, profiles: list):
        from feedback_api.departments.routing import Router, load_examples

        searcher = self.searcher
        if searcher is not None:
            encoder = searcher.encoder
            restore = lambda text: searcher.interpret(text).restored  # noqa: E731
        else:
            from knowledge.dense import Encoder

            encoder, restore = Encoder(self.settings.model_dir), None
        return Router(profiles, encoder=encoder, examples=load_examples(), restore=restore)


def cited_departments_fn(searcher):
    """A function: citations [{law_id, article_id}] -> owning department codes."""
    owners = citation_departments_from(searcher)
    return lambda citations: sorted(
        {owners[c["law_id"]] for c in citations if c.get("law_id") in owners}
    )


def citation_departments_from(searcher) -> dict[str, str]:
    """law_id -> owning department, from the index (or the shipped law table)."""
    if searcher is not None:
        return {p.doc_id: p.department for p in searcher.passages if p.department}
    from knowledge.index import CORPUS

    table = json.loads((Path(CORPUS) / "law_departments.json").read_text(encoding="utf-8"))
    return {k: v for k, v in table.items() if not k.startswith("_")}


def _start(app: FastAPI, settings: Settings) -> None:
    from feedback_api.departments.routing import is_formal_complaint
    from feedback_api.migrate import migrate_and_seed

    if settings.migrate_on_start:
        migrate_and_seed(settings.database_url)
    state = app.state
    state.db = Database(settings.database_url)
    state.calendar = WorkCalendar.load(settings.holidays_file)
    state.is_formal_complaint = is_formal_complaint
    state.searcher = None
    if settings.load_search:
        from knowledge.search import Searcher

        state.searcher = Searcher(settings.index_dir, model_dir=settings.model_dir)
    state.cited_departments = cited_departments_fn(state.searcher)
    holder = RouterHolder(state.db, settings, state.searcher)
    state.router, state.refresh_router = holder, holder.refresh
    state.worker = None
    state.wake_worker = lambda: None
    state.mailbox = None
    if settings.dev_mailbox:
        from feedback_api.notify.devmail import start_dev_mailbox

        state.mailbox = start_dev_mailbox(settings.smtp_host, settings.smtp_port, settings.mail_dir)
    if settings.run_worker:
        from feedback_api.worker import start_worker

        # Build the router (a few seconds of encoding) now, not on the first citizen's item.
        threading.Thread(target=holder, name="caunoi-router-warmup", daemon=True).start()

        state.worker = start_worker(app)
        state.wake_worker = state.worker.wake


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


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings.from_env()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        _start(app, settings)
        yield
        if app.state.worker is not None:
            app.state.worker.stop()
        if app.state.mailbox is not None:
            app.state.mailbox.stop()
        app.state.db.dispose()

    app = FastAPI(
        title="Cầu Nối API",
        version="1.0.0",
        description="Hỏi đáp chính sách, tiếp nhận phản ánh, kiến nghị của người dân tỉnh Lào Cai.",
        lifespan=lifespan,
        dependencies=[Depends(single_valued_query)],
    )
    app.state.settings = settings
    _routes(app)
    _errors(app)
    _document_errors(app)
    return app


def _routes(app: FastAPI) -> None:
    from feedback_api.answers.views import router as answers_router
    from feedback_api.departments.views import router as departments_router
    from feedback_api.feedback.views import router as feedback_router
    from feedback_api.search.views import router as search_router

    app.include_router(search_router)
    app.include_router(feedback_router)
    app.include_router(departments_router)
    app.include_router(answers_router)
    for optional in ("feedback_api.open311.views", "feedback_api.inbox.views",
                     "feedback_api.chat.views"):
        try:
            module = __import__(optional, fromlist=["router"])
        except ModuleNotFoundError as exc:
            if exc.name != optional:
                raise
            continue
        module.install(app) if hasattr(module, "install") else app.include_router(module.router)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict:
        return {"status": "ok"}


def _document_errors(app: FastAPI) -> None:
    """Declare 422 bodies as they are sent (``invalid`` below), not FastAPI's default shape."""
    from feedback_api.feedback.schemas import ErrorPublic

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


def _has_nul(request: Request, body: bytes) -> bool:
    """A NUL character anywhere in the input (PostgreSQL text cannot store it)."""
    query = request.scope.get("query_string", b"")
    form = "urlencoded" in request.headers.get("content-type", "")
    escaped = b"%00" in body if form else JSON_NUL.search(body) is not None
    return "\x00" in request.url.path or b"%00" in query or b"\x00" in body or escaped


def _errors(app: FastAPI) -> None:
    @app.middleware("http")
    async def limit_body(request: Request, call_next):
        size = request.headers.get("content-length")
        if size is not None and (not size.isdigit() or int(size) > MAX_BODY):
            if size.isdigit() and int(size) <= DRAIN_LIMIT:
                # Read and drop the body, so the client sees the 413 rather than a reset.
                async for _ in request.stream():
                    pass
            return JSONResponse(status_code=413, content={"detail": "Nội dung gửi lên quá lớn."})
        body = b""
        if request.method in ("POST", "PUT", "PATCH", "DELETE"):
            body = await request.body()  # at most MAX_BODY, or chunked: checked below
        if len(body) > MAX_BODY:
            return JSONResponse(status_code=413, content={"detail": "Nội dung gửi lên quá lớn."})
        if _has_nul(request, body):
            message = "Dữ liệu gửi lên chứa ký tự NUL (\\u0000), không được chấp nhận."
            if request.url.path.startswith("/open311/"):  # GeoReport's error shape there
                errors = [{"code": 400, "description": message}]
                return JSONResponse(status_code=400, content=errors)
            return JSONResponse(status_code=422, content={"detail": message})
        return await call_next(request)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        """Framework errors in the same shape as ours, and in Vietnamese."""
        detail = FRAMEWORK_MESSAGES.get(exc.detail, exc.detail)
        return JSONResponse(status_code=exc.status_code, content={"detail": detail},
                            headers=getattr(exc, "headers", None))

    @app.exception_handler(DomainError)
    async def domain(request: Request, exc: DomainError) -> JSONResponse:
        return JSONResponse(status_code=exc.status, content={"detail": exc.message})

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        fields = ", ".join(".".join(str(p) for p in e["loc"][1:]) for e in exc.errors())
        return JSONResponse(
            status_code=422,
            content={
                "detail": f"Dữ liệu không hợp lệ ở: {fields or 'yêu cầu'}.",
                "errors": [{"loc": list(e["loc"]), "msg": e["msg"]} for e in exc.errors()],
            },
        )
