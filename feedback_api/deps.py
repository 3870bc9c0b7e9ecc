"""Typed dependencies: the request's own DB session, the app's services, and who is calling.

Views take these as parameters (``session: DbSession``, ``settings: SettingsDep`` …); the
services come from the one ``Services`` object the lifespan built (runtime.py). The accessors
are ``async``: FastAPI runs them on the event loop instead of sending each to a thread.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, HTTPException, Request
from sqlalchemy.orm import Session

from feedback_api.auth.service import Principal, principal_for_token
from feedback_api.departments.classifier import ClassifierHolder
from feedback_api.feedback.calendar import WorkCalendar
from feedback_api.runtime import Services, services_of
from feedback_api.settings import Settings

if TYPE_CHECKING:
    from knowledge import Searcher


async def get_services(request: Request) -> Services:
    return services_of(request.app)


ServicesDep = Annotated[Services, Depends(get_services)]


def get_session(services: ServicesDep) -> Iterator[Session]:
    """One session per request; views commit explicitly, errors roll back."""
    with services.db.sessions() as session:
        try:
            yield session
        except BaseException:
            session.rollback()
            raise


async def get_settings(services: ServicesDep) -> Settings:
    return services.settings


async def get_calendar(services: ServicesDep) -> WorkCalendar:
    return services.calendar


async def get_searcher(services: ServicesDep) -> Searcher | None:
    """The loaded search index, or None (CAUNOI_LOAD_SEARCH=0, or no index built)."""
    return services.searcher


async def get_classifier(services: ServicesDep) -> ClassifierHolder:
    return services.classifier


async def get_wake_worker(services: ServicesDep) -> Callable[[], None]:
    return services.wake_worker


DbSession = Annotated[Session, Depends(get_session)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
CalendarDep = Annotated[WorkCalendar, Depends(get_calendar)]
SearcherDep = Annotated["Searcher | None", Depends(get_searcher)]
ClassifierDep = Annotated[ClassifierHolder, Depends(get_classifier)]
WakeWorker = Annotated[Callable[[], None], Depends(get_wake_worker)]


def current_principal(request: Request, session: DbSession) -> Principal | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return principal_for_token(session, token=token.strip())
    user = getattr(request.state, "user_principal", None)  # set by the inbox's session cookie
    return user


def require(*roles: str):
    """A dependency that admits only these roles (401 without credentials, 403 otherwise)."""

    def check(principal: Annotated[Principal | None, Depends(current_principal)]) -> Principal:
        if principal is None:
            raise HTTPException(
                401,
                "Cần đăng nhập hoặc mã truy cập (Authorization: Bearer …).",
                headers={"WWW-Authenticate": "Bearer"},
            )
        if principal.role not in roles:
            raise HTTPException(403, "Tài khoản này không có quyền thực hiện thao tác này.")
        return principal

    return check


Service = Annotated[Principal, Depends(require("service", "admin"))]
Official = Annotated[Principal, Depends(require("admin", "triage", "liaison"))]
Admin = Annotated[Principal, Depends(require("admin"))]
AnyToken = Annotated[Principal, Depends(require("service", "admin", "triage", "liaison"))]
