"""The FastAPI application factory: wiring only; nothing happens at import time.

Settings in, then the lifespan (start and stop what the app owns: runtime.Services), the
routers of each domain, and the HTTP guards and error handlers (http.py).
"""

from __future__ import annotations

from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI
from fastapi.responses import JSONResponse

from feedback_api import http
from feedback_api.deps import DbSession, SettingsDep
from feedback_api.health import readiness
from feedback_api.runtime import start_services
from feedback_api.settings import Settings

# Domains that install themselves (pages, static files, middleware) when present.
OPTIONAL = ("feedback_api.open311.views", "feedback_api.inbox.views", "feedback_api.chat.views",
            "feedback_api.channels.views")


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        app.state.services = start_services(settings)
        yield
        app.state.services.stop()

    app = FastAPI(
        title="Cầu Nối API",
        version="1.0.0",
        description="Hỏi đáp chính sách, tiếp nhận phản ánh, kiến nghị của người dân tỉnh Lào Cai.",
        lifespan=lifespan,
        dependencies=[Depends(http.single_valued_query)],
    )
    _routes(app, settings)
    http.install(app)
    return app


def _routes(app: FastAPI, settings: Settings) -> None:
    from feedback_api.answers.views import router as answers_router
    from feedback_api.departments.views import router as departments_router
    from feedback_api.feedback.views import router as feedback_router
    from feedback_api.privacy.views import install as install_privacy
    from feedback_api.search.views import router as search_router

    app.include_router(search_router)
    app.include_router(feedback_router)
    app.include_router(departments_router)
    app.include_router(answers_router)
    install_privacy(app, settings)  # GET/DELETE /api/v1/personal-data, every store
    for optional in OPTIONAL:
        try:
            module = __import__(optional, fromlist=["router"])
        except ModuleNotFoundError as exc:
            if exc.name != optional:
                raise
            continue
        if hasattr(module, "install"):
            module.install(app, settings)
        else:
            app.include_router(module.router)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict:
        """Liveness: the process answers. Whether the work gets done is /readyz."""
        return {"status": "ok"}

    @app.get("/readyz", include_in_schema=False)
    def readyz(session: DbSession, settings: SettingsDep) -> JSONResponse:
        """Readiness: a worker is alive and routing and delivery keep up (health.py)."""
        body = readiness(session, settings)
        return JSONResponse(body, status_code=200 if body["status"] == "ok" else 503,
                            headers={"Cache-Control": "no-store"})
