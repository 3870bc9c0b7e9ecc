"""The official's own account: log in (throttled), log out, change the password.

Logging in starts a server-side session (auth/sessions.py) whose token goes into the signed
cookie; logging out ends it. An official who must choose a new password (the bootstrap admin,
or after an admin's reset) is sent to the password page by the session middleware until done.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from feedback_api.auth import passwords
from feedback_api.auth.orm import User
from feedback_api.auth.service import audit, check_password
from feedback_api.auth.sessions import end_session, start_session
from feedback_api.auth.throttle import Limits
from feedback_api.deps import DbSession, SettingsDep
from feedback_api.errors import Invalid
from feedback_api.inbox.pages import Form, Viewer, redirect, render
from feedback_api.inbox.sessions import session_of
from feedback_api.ratelimit import client_address as client_ip  # IPv6 counted per /64
from feedback_api.settings import Settings

router = APIRouter(prefix="/inbox", include_in_schema=False)
WRONG = "Tên đăng nhập hoặc mật khẩu không đúng."
LOCKED = "Đăng nhập sai quá nhiều lần. Vui lòng thử lại sau {seconds} giây."
BUSY = "Hệ thống đang bận, vui lòng thử lại sau ít giây."


def safe_next(target: str | None) -> str:
    """Only same-site paths under /inbox (no open redirect)."""
    if target and target.startswith("/inbox") and "//" not in target and "\\" not in target:
        return target
    return "/inbox"


def limits(settings: Settings) -> Limits:
    return Limits(per_user=settings.login_failures_per_user,
                  per_ip=settings.login_failures_per_ip)


def refused(response: Response, outcome: passwords.Outcome) -> Response:
    response.headers["Retry-After"] = str(outcome.retry_after)
    return response


def refusal(outcome: passwords.Outcome) -> tuple[int, str]:
    if outcome.busy:
        return 503, BUSY
    return 429, LOCKED.format(seconds=outcome.retry_after)


@router.get("/login")
def login_page(request: Request, next: str | None = None):
    if getattr(request.state, "user_principal", None) is not None:
        return redirect(safe_next(next))
    return render(request, "login.html", next=safe_next(next))


@router.post("/login")
def login(request: Request, form: Form, session: DbSession, settings: SettingsDep):
    username = (form.get("username") or "").strip()[:100]
    outcome = passwords.attempt_login(
        session, username=username, password=(form.get("password") or "")[:200],
        ip=client_ip(request), limits=limits(settings))
    session.commit()  # the failure, the lock and the audit rows stay whatever happens next
    if outcome.user is None:
        status, error = refusal(outcome) if outcome.retry_after else (401, WRONG)
        page = render(request, "login.html", status=status, next=safe_next(form.get("next")),
                      username=username, error=error)
        return refused(page, outcome) if outcome.retry_after else page
    token = start_session(session, user=outcome.user)
    session.commit()
    session_of(request).login(token)
    if outcome.user.must_change_password:
        return redirect("/inbox/password")
    return redirect(safe_next(form.get("next")))


@router.post("/logout")
def logout(request: Request, me: Viewer, form: Form, session: DbSession):
    token = session_of(request).token
    if token:
        end_session(session, token=token, reason="logout")
    audit(session, actor=me.actor, action="auth.logout", target=me.name,
          details={"ip": client_ip(request)})
    session.commit()
    session_of(request).logout()
    session_of(request).flash("Đã đăng xuất.")
    return redirect("/inbox/login")


@router.get("/password")
def password_page(request: Request, me: Viewer):
    return render(request, "password.html", forced=request.state.must_change_password)


@router.post("/password")
def change_password(request: Request, me: Viewer, form: Form, session: DbSession,
                    settings: SettingsDep):
    """Current password and the new one twice; this browser stays in, on a new session."""
    current, new = form.get("current") or "", form.get("new") or ""
    forced = request.state.must_change_password

    def again(error: str, status: int = 400) -> Response:
        return render(request, "password.html", status=status, forced=forced, error=error)

    try:
        check_password(new)
        if new != (form.get("again") or ""):
            raise Invalid("Hai lần nhập mật khẩu mới không khớp nhau.")
        if new == current:
            raise Invalid("Mật khẩu mới phải khác mật khẩu hiện tại.")
    except Invalid as exc:
        return again(exc.message)
    ip = client_ip(request)
    outcome = passwords.attempt_login(session, username=me.name, password=current[:200],
                                      ip=ip, limits=limits(settings), login=False)
    if outcome.user is None:
        session.commit()
        if outcome.retry_after:
            status, error = refusal(outcome)
            return refused(again(error, status), outcome)
        return again("Mật khẩu hiện tại không đúng.")
    user = session.get(User, me.user_id)
    passwords.set_password(session, user=user, password=new, actor=me.actor, ip=ip)
    token = start_session(session, user=user)
    session.commit()
    passwords.forget_first_login(settings.data_dir, user)
    session_of(request).login(token)
    session_of(request).flash("Đã đổi mật khẩu.")
    return redirect("/inbox")
