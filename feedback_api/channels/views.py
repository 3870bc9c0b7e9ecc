"""The webhooks on the API port: ``POST /webhooks/zalo``, ``GET``/``POST /webhooks/messenger``,
and Zalo's domain verification file.

Each delivery is verified on its raw body, its events stored (one row per platform message id,
so a redelivery or a copy sent to another process is dropped), and only then acknowledged with
200; the dispatcher answers later. A platform that is not configured answers 404; a refused
signature 401/403 and nothing is stored. When the database cannot store the events the answer
is 503, so the platform delivers them again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import anyio
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse
from sqlalchemy.exc import SQLAlchemyError

from feedback_api.channels import messenger, zalo
from feedback_api.channels.base import Inbound, Rejected
from feedback_api.channels.store import store_events
from feedback_api.deps import ServicesDep
from feedback_api.ratelimit import per_client
from feedback_api.runtime import Services
from feedback_api.settings import Settings

log = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)
WebhookLimit = Depends(per_client("webhooks", default="3000/minute"))
OFF = "Kênh {name} chưa được bật trên máy chủ này."
REFUSED = "Yêu cầu không hợp lệ: chữ ký sai hoặc thiếu."
STORE_FAILED = "Tạm thời chưa lưu được tin nhắn, nền tảng sẽ gửi lại."
# What Zalo's domain check reads (Developers → app → Xác thực domain gives the token)
ZALO_VERIFIER = ('<html><head><meta property="zalo-platform-site-verification" '
                 'content="{token}" /></head><body>There Is No Limit To What You Can '
                 'Accomplish Using Zalo!</body></html>')


def install(app: FastAPI, settings: Settings) -> None:
    app.include_router(router)
    token = settings.zalo_verifier.strip()
    if token and token.isalnum():
        page = ZALO_VERIFIER.format(token=token)
        app.add_api_route(f"/zalo_verifier{token}.html", lambda: HTMLResponse(page),
                          methods=["GET"], include_in_schema=False)


def _refused(platform: str, exc: Rejected) -> JSONResponse:
    log.warning("%s webhook refused (%s): %s", platform, exc.status, exc.reason)
    return JSONResponse({"detail": REFUSED}, status_code=exc.status)


async def _store(services: Services, platform: str, events: list[Inbound]) -> JSONResponse:
    if events:
        try:
            await anyio.to_thread.run_sync(store_events, services.db, platform, events)
        except SQLAlchemyError as exc:
            log.error("%s webhook: events not stored: %s", platform, type(exc).__name__)
            return JSONResponse({"detail": STORE_FAILED}, status_code=503)
        if services.gateway is not None:
            services.gateway.wake()
    return JSONResponse({"status": "ok"})


async def _receive(request: Request, services: Services, platform: str,
                   verify: Callable[[bytes], bool | None],
                   parse: Callable[[bytes], list[Inbound]]) -> JSONResponse:
    raw = await request.body()
    try:
        genuine = verify(raw)
    except Rejected as exc:
        return _refused(platform, exc)
    if genuine is False:  # Zalo's unsigned set-up probe
        return JSONResponse({"status": "ok"})
    try:
        events = parse(raw)
    except Exception as exc:  # noqa: BLE001 - a parser bug: let the platform deliver it again
        log.error("%s webhook: a signed delivery could not be read: %s", platform,
                  type(exc).__name__)
        return JSONResponse({"detail": STORE_FAILED}, status_code=503)
    return await _store(services, platform, events)


@router.post("/webhooks/zalo", dependencies=[WebhookLimit])
async def zalo_webhook(request: Request, services: ServicesDep) -> JSONResponse:
    settings = services.settings
    if not settings.zalo_on:
        return JSONResponse({"detail": OFF.format(name="Zalo")}, status_code=404)
    return await _receive(
        request, services, zalo.PLATFORM,
        lambda raw: zalo.verify(raw, request.headers, app_id=settings.zalo_app_id,
                                oa_secret=settings.zalo_oa_secret, now=time.time()),
        zalo.parse)


@router.get("/webhooks/messenger", dependencies=[WebhookLimit])
async def messenger_subscription(request: Request, services: ServicesDep):
    settings = services.settings
    if not settings.messenger_on:
        return JSONResponse({"detail": OFF.format(name="Messenger")}, status_code=404)
    try:
        challenge = messenger.verify_subscription(
            request.query_params, verify_token=settings.messenger_verify_token)
    except Rejected as exc:
        return _refused(messenger.PLATFORM, exc)
    return PlainTextResponse(challenge)


@router.post("/webhooks/messenger", dependencies=[WebhookLimit])
async def messenger_webhook(request: Request, services: ServicesDep) -> JSONResponse:
    settings = services.settings
    if not settings.messenger_on:
        return JSONResponse({"detail": OFF.format(name="Messenger")}, status_code=404)

    def verify(raw: bytes) -> None:
        messenger.verify(raw, request.headers, app_secret=settings.messenger_app_secret)

    return await _receive(request, services, messenger.PLATFORM, verify, messenger.parse)
