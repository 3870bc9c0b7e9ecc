"""Typed dependencies: the request's own DB session and who is calling."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from sqlalchemy.orm import Session

from feedback_api.auth.service import Principal, principal_for_token


def get_session(request: Request) -> Iterator[Session]:
    """One session per request; views commit explicitly, errors roll back."""
    with request.app.state.db.sessions() as session:
        try:
            yield session
        except BaseException:
            session.rollback()
            raise


DbSession = Annotated[Session, Depends(get_session)]


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
