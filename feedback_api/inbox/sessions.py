"""Officials' browser sessions: a signed cookie (itsdangerous), CSRF tokens and flash messages.

The cookie holds only the user id, the login time, a per-session CSRF token and pending flash
messages; it is signed with ``settings.secret_key``, HttpOnly and SameSite=Lax. The user is
reloaded on every request, so a deactivated account loses access at once.
"""

from __future__ import annotations

import hmac
import secrets
import time
from dataclasses import dataclass, field

from fastapi import FastAPI, Request
from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from feedback_api.auth.orm import User
from feedback_api.auth.service import Principal, principal_for_user
from feedback_api.runtime import services_of

COOKIE = "caunoi_inbox"
MAX_AGE = 12 * 3600  # seconds: an official logs in once per working day
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


@dataclass
class InboxSession:
    """What the cookie carries; ``modified`` decides whether the cookie is written back."""

    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    user_id: int | None = None
    login_at: float | None = None
    flashes: list[list[str]] = field(default_factory=list)
    modified: bool = False

    def login(self, user_id: int) -> None:
        """A fresh session (new CSRF token) for this user: no fixation across logins."""
        self.csrf = secrets.token_urlsafe(32)
        self.user_id, self.login_at, self.flashes = user_id, time.time(), []
        self.modified = True

    def logout(self) -> None:
        self.csrf = secrets.token_urlsafe(32)
        self.user_id = self.login_at = None
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
    """Signs and verifies the cookie."""

    def __init__(self, secret_key: str, *, secure: bool) -> None:
        self.serializer = URLSafeTimedSerializer(secret_key, salt="caunoi-inbox-session")
        self.secure = secure

    def load(self, cookie: str | None) -> InboxSession:
        if not cookie:
            return InboxSession(modified=True)
        try:
            data = self.serializer.loads(cookie, max_age=MAX_AGE)
        except (BadSignature, ValueError, TypeError):
            return InboxSession(modified=True)
        if not isinstance(data, dict) or not isinstance(data.get("csrf"), str):
            return InboxSession(modified=True)
        session = InboxSession(csrf=data["csrf"], user_id=data.get("uid"),
                               login_at=data.get("at"), flashes=list(data.get("fl") or []))
        if session.login_at is not None and time.time() - session.login_at > MAX_AGE:
            session.logout()
        return session

    def save(self, response: Response, session: InboxSession) -> None:
        value = self.serializer.dumps({"csrf": session.csrf, "uid": session.user_id,
                                       "at": session.login_at, "fl": session.flashes})
        response.set_cookie(COOKIE, value, max_age=MAX_AGE, path="/", httponly=True,
                            samesite="lax", secure=self.secure)


def _load_principal(app: FastAPI, user_id: int) -> Principal | None:
    with services_of(app).db.session() as db:
        user = db.get(User, user_id)
        return principal_for_user(user) if user is not None and user.active else None


def install_sessions(app: FastAPI, store: SessionStore) -> None:
    """Read the cookie on /inbox and /api requests; set ``request.state.user_principal``.

    The JSON API accepts the cookie too, but for writes only with the session's CSRF token in
    an ``X-CSRF-Token`` header (SameSite=Lax already stops cross-site form posts; this is the
    second lock).
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
        principal = None
        if session.user_id is not None:
            principal = await run_in_threadpool(_load_principal, app, session.user_id)
            if principal is None:
                session.logout()
        api_write = path.startswith("/api/") and request.method not in SAFE_METHODS
        if principal is not None and (
            not api_write or session.csrf_ok(request.headers.get(CSRF_HEADER))
        ):
            request.state.user_principal = principal
        response = await call_next(request)
        if session.modified and path.startswith("/inbox"):
            store.save(response, session)
        return response


def session_of(request: Request) -> InboxSession:
    return request.state.inbox_session
