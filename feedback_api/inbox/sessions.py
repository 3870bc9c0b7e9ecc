"""Officials' browser sessions: a signed cookie (itsdangerous), CSRF tokens and flash messages.

The cookie holds a per-browser CSRF token, pending flash messages and, once logged in, the
random token of a server-side session (auth/sessions.py); it is signed with a key derived from
the installation's secret (``settings.key("inbox-session")``), HttpOnly and SameSite=Lax. The
signature only protects the CSRF token and flashes: who is logged in is decided by the
session's row, looked up on every request, so logout, deactivation, a password change and
idle time end a session whatever the browser still holds. Anonymous visitors (the login
form's CSRF token) get no row.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass, field
from datetime import timedelta

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse
from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from feedback_api.auth.sessions import MAX_AGE, SignedIn, resolve_session
from feedback_api.runtime import services_of

COOKIE = "caunoi_inbox"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
PASSWORD_PAGE = "/inbox/password"
# What an official who must choose a new password may still open.
BEFORE_NEW_PASSWORD = (PASSWORD_PAGE, "/inbox/logout", "/inbox/login")
MUST_CHANGE = "Bạn cần đổi mật khẩu trước khi tiếp tục (trang /inbox/password)."


@dataclass
class InboxSession:
    """What the cookie carries; ``modified`` decides whether the cookie is written back."""

    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    token: str | None = None  # the server-side session's token, once logged in
    flashes: list[list[str]] = field(default_factory=list)
    modified: bool = False

    def login(self, token: str) -> None:
        """A fresh session (new CSRF token) for this login: no fixation across logins."""
        self.csrf = secrets.token_urlsafe(32)
        self.token, self.flashes = token, []
        self.modified = True

    def logout(self) -> None:
        self.csrf = secrets.token_urlsafe(32)
        self.token = None
        self.modified = True

    def flash(self, text: str, level: str = "ok") -> None:
        self.flashes.append([level, text])
        self.modified = True

    def pop_flashes(self) -> list[list[str]]:
        out, self.flashes = self.flashes, []
        if out:
            self.modified = True
        return out

    def csrf_ok(self, token: str | None) -> bool:
        return bool(token) and hmac.compare_digest(token.encode(), self.csrf.encode())


class SessionStore:
    """Signs and verifies the cookie; ``idle`` is how long a session lives without requests."""

    def __init__(self, secret_key: str | bytes, *, secure: bool,
                 idle: timedelta = timedelta(minutes=30)) -> None:
        self.serializer = URLSafeTimedSerializer(secret_key, salt="caunoi-inbox-session")
        self.secure, self.idle = secure, idle

    def load(self, cookie: str | None) -> InboxSession:
        if not cookie:
            return InboxSession(modified=True)
        try:
            data = self.serializer.loads(cookie, max_age=int(MAX_AGE.total_seconds()))
        except (BadSignature, ValueError, TypeError):
            return InboxSession(modified=True)
        if not isinstance(data, dict) or not isinstance(data.get("csrf"), str):
            return InboxSession(modified=True)
        token = data.get("sid")
        flashes = data.get("fl")
        return InboxSession(csrf=data["csrf"], token=token if isinstance(token, str) else None,
                            flashes=list(flashes) if isinstance(flashes, list) else [])

    def save(self, response: Response, session: InboxSession) -> None:
        value = self.serializer.dumps({"csrf": session.csrf, "sid": session.token,
                                       "fl": session.flashes})
        response.set_cookie(COOKIE, value, max_age=int(MAX_AGE.total_seconds()), path="/",
                            httponly=True, samesite="lax", secure=self.secure)


def _signed_in(app: FastAPI, token: str, idle: timedelta) -> SignedIn | None:
    with services_of(app).db.session() as db:  # commits last_seen_at or the session's end
        return resolve_session(db, token=token, idle=idle)


def install_sessions(app: FastAPI, store: SessionStore) -> None:
    """Read the cookie on /inbox and /api requests; set ``request.state.user_principal``.

    The JSON API accepts the cookie too, but for writes only with the session's CSRF token in
    an ``X-CSRF-Token`` header (SameSite=Lax already stops cross-site form posts; this is the
    second lock). An official who must choose a new password is sent to the password page
    (inbox) or refused with 403 (API).
    """

    @app.middleware("http")
    async def inbox_session(request: Request, call_next):
        path = request.url.path
        if path.startswith("/inbox/static") or not path.startswith(("/inbox", "/api/")):
            return await call_next(request)
        cookie = request.cookies.get(COOKIE)
        if path.startswith("/api/") and not cookie:
            return await call_next(request)
        session = store.load(cookie)
        request.state.inbox_session = session
        signed_in = None
        if session.token is not None:
            signed_in = await run_in_threadpool(_signed_in, app, session.token, store.idle)
            if signed_in is None:
                session.logout()
        request.state.must_change_password = bool(signed_in and signed_in.must_change_password)
        api = path.startswith("/api/")
        if request.state.must_change_password and not (
            api and request.headers.get("authorization")
        ):
            if api:
                return JSONResponse({"detail": MUST_CHANGE}, status_code=403)
            if path not in BEFORE_NEW_PASSWORD:
                return RedirectResponse(PASSWORD_PAGE, status_code=303)
        api_write = api and request.method not in SAFE_METHODS
        if signed_in is not None and (
            not api_write or session.csrf_ok(request.headers.get(CSRF_HEADER))
        ):
            request.state.user_principal = signed_in.principal
        response = await call_next(request)
        if session.modified and path.startswith("/inbox"):
            store.save(response, session)
        return response


def session_of(request: Request) -> InboxSession:
    return request.state.inbox_session
