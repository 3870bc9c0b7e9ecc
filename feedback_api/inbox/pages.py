"""Rendering for the inbox: one Jinja2 environment (autoescape on), labels, HTML error pages."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Annotated
from urllib.parse import urlencode

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, FileSystemLoader

from feedback_api.auth.service import Principal
from feedback_api.feedback import lifecycle
from feedback_api.inbox.sessions import CSRF_FIELD, session_of

HERE = Path(__file__).resolve().parent
VIETNAM = timezone(timedelta(hours=7), "ICT")  # no daylight saving time in Vietnam

KINDS = {"complaint": "Phản ánh", "proposal": "Kiến nghị", "question": "Câu hỏi"}
PRIORITIES = {"low": "Thấp", "normal": "Bình thường", "high": "Cao", "urgent": "Khẩn"}
ROLES = {"admin": "Quản trị", "triage": "Phân loại (Văn phòng)", "liaison": "Đầu mối cơ quan"}
CHANNELS = {"web": "Web", "zalo": "Zalo", "messenger": "Messenger", "zalo_miniapp": "Mini app Zalo",
            "api": "API"}
ACTIONS = {
    "created": "Tiếp nhận", "routed": "Chuyển cơ quan", "rerouted": "Chuyển lại cơ quan",
    "status": "Đổi trạng thái", "reply": "Trả lời người dân", "note": "Ghi chú nội bộ",
    "merged": "Gộp", "escalated": "Nhắc quá hạn", "erased": "Xóa dữ liệu cá nhân",
    "updated": "Cập nhật", "not_delivered": "Không gửi được", "retry_delivery": "Gửi lại trả lời",
}


def local_time(value: datetime | None) -> str:
    """"14/03/2025 09:05" in Vietnam time."""
    return value.astimezone(VIETNAM).strftime("%d/%m/%Y %H:%M") if value else ""


def _environment() -> Environment:
    env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=True,
                      trim_blocks=True, lstrip_blocks=True)
    env.filters["time"] = local_time
    env.globals.update(
        STATUS_LABELS=lifecycle.LABELS, KINDS=KINDS, PRIORITIES=PRIORITIES, ROLES=ROLES,
        CHANNELS=CHANNELS, ACTIONS=ACTIONS, CSRF_FIELD=CSRF_FIELD, urlencode=urlencode,
    )
    return env


TEMPLATES = _environment()


def render(request: Request, name: str, *, status: int = 200, **context) -> HTMLResponse:
    """A page with the signed-in official, CSRF token and pending flash messages."""
    session = session_of(request)
    html = TEMPLATES.get_template(name).render(
        request=request, me=getattr(request.state, "user_principal", None),
        csrf=session.csrf, flashes=session.pop_flashes(), **context,
    )
    return HTMLResponse(html, status_code=status)


def redirect(url: str) -> RedirectResponse:
    """Post/redirect/get: 303 so the browser follows with GET."""
    return RedirectResponse(url, status_code=303)


class LoginRequired(Exception):
    """No valid session: the handler redirects to the login page."""


class PageError(Exception):
    """An HTML error page (403, 404) with a Vietnamese message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


def install_error_pages(app) -> None:
    @app.exception_handler(LoginRequired)
    async def to_login(request: Request, exc: LoginRequired):
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        if request.method != "GET":  # a form post cannot be replayed after logging in
            target = "/inbox"
        return redirect("/inbox/login?" + urlencode({"next": target}))

    @app.exception_handler(PageError)
    async def page_error(request: Request, exc: PageError):
        return render(request, "error.html", status=exc.status, status_code=exc.status,
                      message=exc.message)


def _viewer(request: Request) -> Principal:
    principal = getattr(request.state, "user_principal", None)
    if principal is None or principal.kind != "user":
        raise LoginRequired()
    return principal


def _admin(principal: Annotated[Principal, Depends(_viewer)]) -> Principal:
    if principal.role != "admin":
        raise PageError(403, "Trang này chỉ dành cho quản trị viên.")
    return principal


async def _form(request: Request) -> dict[str, str]:
    """The posted form, after the CSRF check (403 without the session's token)."""
    form = await request.form()
    values = {k: v for k, v in form.items() if isinstance(v, str)}
    if not session_of(request).csrf_ok(values.get(CSRF_FIELD)):
        raise PageError(403, "Phiên làm việc không hợp lệ hoặc đã hết hạn (CSRF). "
                             "Hãy tải lại trang và thử lại.")
    return values


Viewer = Annotated[Principal, Depends(_viewer)]
AdminUser = Annotated[Principal, Depends(_admin)]
Form = Annotated[dict[str, str], Depends(_form)]
