"""The FastAPI application factory."""

from __future__ import annotations

from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from feedback_api.search.views import router as search_router
from feedback_api.settings import Settings


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings.from_env()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        from knowledge.search import Searcher

        app.state.searcher = Searcher(settings.index_dir, model_dir=settings.model_dir)
        yield

    app = FastAPI(title="Cầu Nối API", version="0.1.0", lifespan=lifespan)
    app.state.settings = settings
    app.include_router(search_router)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict:
        return {"status": "ok"}

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        fields = ", ".join(".".join(str(p) for p in e["loc"][1:]) for e in exc.errors())
        return JSONResponse(
            status_code=422,
            content={
                "detail": f"Dữ liệu không hợp lệ ở: {fields or 'yêu cầu'}.",
                "errors": [{"loc": e["loc"], "msg": e["msg"]} for e in exc.errors()],
            },
        )

    return app
