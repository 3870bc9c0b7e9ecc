"""The dashboard (every official) and the admin pages: departments and accounts.

Each admin write is recorded with ``audit``; department edits rebuild the department classifier.
"""

from __future__ import annotations

from datetime import datetime
from urllib.parse import quote

from fastapi import APIRouter, Request
from pydantic import ValidationError
from sqlalchemy import select

from feedback_api.auth import passwords
from feedback_api.auth.orm import User
from feedback_api.auth.service import USER_ROLES, audit, create_user
from feedback_api.auth.sessions import end_user_sessions
from feedback_api.channels.health import channel_health
from feedback_api.db import utcnow
from feedback_api.departments import service as departments
from feedback_api.departments.views import DepartmentUpdate, new_secret
from feedback_api.deps import ClassifierDep, DbSession, SearcherDep, SettingsDep
from feedback_api.errors import DomainError, Invalid, NotFound
from feedback_api.feedback import lifecycle
from feedback_api.inbox import charts, stats
from feedback_api.inbox.pages import AdminUser, Form, PageError, Viewer, redirect, render
from feedback_api.inbox.sessions import session_of
from feedback_api.ratelimit import client_address as client_ip
from feedback_api.search import validity as corrections
from feedback_api.search.orm import FIELDS as VALIDITY_FIELDS

router = APIRouter(prefix="/inbox", include_in_schema=False)
LIAISON_FIELDS = ("name", "email", "zalo_user_id", "phone")
HEALTH_TIMES = ("last_event_at", "last_send_at", "token_expires_at")


@router.get("/dashboard")
def dashboard(request: Request, me: Viewer, session: DbSession):
    scope = {me.department or ""} if me.role == "liaison" else None
    now = utcnow()
    names = departments.department_names(session)
    by_status = stats.by_department_and_status(session, departments=scope)
    weeks = stats.per_week(session, now=now, departments=scope)
    overdue = stats.overdue_by_department(session, now=now, departments=scope)
    return render(
        request, "dashboard.html",
        status_chart=charts.stacked_by_status(by_status, names),
        week_chart=charts.weekly_columns(weeks),
        overdue_chart=charts.single_bars(overdue, names, css="overdue"),
        totals={s: sum(c.get(s, 0) for c in by_status.values()) for s in lifecycle.STATUSES},
        overdue_total=sum(overdue.values()), weeks_total=sum(w.count for w in weeks),
    )


# --- departments -----------------------------------------------------------------------------

@router.get("/admin/departments")
def department_list(request: Request, me: AdminUser, session: DbSession):
    return render(request, "departments.html", departments=departments.list_departments(session))


@router.get("/admin/departments/{code}")
def department_page(request: Request, code: str, me: AdminUser, session: DbSession):
    try:
        dept = departments.get_department(session, code=code)
    except NotFound as exc:
        raise PageError(404, exc.message) from exc
    liaison = dept.liaisons[0] if dept.liaisons else None
    return render(request, "department_edit.html", dept=dept, liaison=liaison)


def _department_update(form: dict[str, str]) -> DepartmentUpdate:
    """The API's validation model, so the page and the API accept the same values."""
    try:
        return DepartmentUpdate(
            name=form.get("name", ""), mandate=form.get("mandate", ""),
            webhook_url=(form.get("webhook_url") or "").strip(),
            liaison={k: (form.get(f"liaison_{k}") or "").strip() for k in LIAISON_FIELDS},
        )
    except ValidationError as exc:
        fields = ", ".join(".".join(str(p) for p in e["loc"]) for e in exc.errors())
        raise Invalid(f"Dữ liệu không hợp lệ ở: {fields}.") from exc


@router.post("/admin/departments/{code}")
def department_save(request: Request, code: str, me: AdminUser, form: Form, session: DbSession,
                    classifier: ClassifierDep, settings: SettingsDep):
    try:
        body = _department_update(form)
        before = departments.get_department(session, code=code).webhook_secret_version or 0
        dept = departments.update_department(
            session, code=code, name=body.name, mandate=body.mandate,
            webhook_url=body.webhook_url, liaison=body.liaison.model_dump(exclude_none=True),
            allow_private_webhooks=settings.webhook_allow_private,
        )
        audit(session, actor=me.actor, action="department.update", target=code,
              details=body.model_dump(exclude_none=True))
        session.commit()
    except NotFound as exc:
        raise PageError(404, exc.message) from exc
    except DomainError as exc:
        session.rollback()
        session_of(request).flash(exc.message, "error")
        return redirect(f"/inbox/admin/departments/{code}")
    classifier.refresh()
    session_of(request).flash("Đã lưu thông tin cơ quan.")
    if secret := new_secret(settings, dept, before):
        return _show_secret(request, dept, secret)
    return redirect("/inbox/admin/departments")


@router.post("/admin/departments/{code}/webhook-secret")
def department_rotate_secret(request: Request, code: str, me: AdminUser, form: Form,
                             session: DbSession, settings: SettingsDep):
    try:
        before = departments.get_department(session, code=code).webhook_secret_version or 0
        dept = departments.rotate_webhook_secret(session, code=code)
    except NotFound as exc:
        raise PageError(404, exc.message) from exc
    audit(session, actor=me.actor, action="department.webhook_secret", target=code,
          details={"version": dept.webhook_secret_version})
    session.commit()
    return _show_secret(request, dept, new_secret(settings, dept, before))


def _show_secret(request: Request, dept, secret: str | None):
    """The one page that shows a department's webhook secret: rendered, not redirected to
    (a flash message would keep it in the session), and never cached."""
    return render(request, "webhook_secret.html", dept=dept, secret=secret)  # no-store: http.py


# --- messaging channels ----------------------------------------------------------------------

def waited(seconds: float | None) -> str:
    """"2 giờ 5 phút", "3 phút 20 giây", "45 giây": how long the oldest message has waited."""
    if seconds is None:
        return "không có"
    total = int(seconds)
    hours, minutes, secs = total // 3600, total % 3600 // 60, total % 60
    if hours:
        return f"{hours} giờ {minutes} phút"
    return f"{minutes} phút {secs} giây" if minutes else f"{secs} giây"


def health_rows(health: dict) -> list[dict]:
    """``channel_health`` for the page: times as datetimes (shown in Vietnam time), the wait
    as words, and whether Zalo's token has already expired."""
    now = utcnow()
    rows = []
    for platform, entry in health.items():
        row = {**entry, "platform": platform, "waiting": waited(
            entry.get("oldest_pending_event_age_s"))}
        for name in HEALTH_TIMES:
            if entry.get(name):
                row[name] = datetime.fromisoformat(entry[name])
        expires = row.get("token_expires_at")
        row["token_expired"] = bool(expires and expires <= now)
        rows.append(row)
    return rows


@router.get("/admin/channels")
def channel_page(request: Request, me: AdminUser, session: DbSession, settings: SettingsDep):
    return render(request, "channels.html",
                  platforms=health_rows(channel_health(session, settings)))


# --- legal validity of the indexed documents --------------------------------------------------

NO_INDEX = "Chỉ mục tìm kiếm chưa được nạp, nên chưa có danh sách văn bản."


def _documents(searcher, session) -> list[tuple]:
    """(as indexed, as citizens are told today, the official's correction or None) per document."""
    if searcher is None:
        raise PageError(503, NO_INDEX)
    docs = corrections.documents(searcher)
    fixed = corrections.overrides(session, (d.doc_id for d in docs))
    return [(d, corrections.corrected(d, fixed.get(d.doc_id)), fixed.get(d.doc_id)) for d in docs]


@router.get("/admin/laws")
def law_list(request: Request, me: AdminUser, session: DbSession, searcher: SearcherDep):
    return render(request, "laws.html", documents=_documents(searcher, session))


def _document(searcher, session, doc_id: str) -> tuple:
    found = [row for row in _documents(searcher, session) if row[0].doc_id == doc_id]
    if not found:
        raise PageError(404, "Không có văn bản này trong chỉ mục.")
    return found[0]


@router.get("/admin/laws/{doc_id:path}")
def law_page(request: Request, doc_id: str, me: AdminUser, session: DbSession,
             searcher: SearcherDep):
    indexed, shown, fixed = _document(searcher, session, doc_id)
    return render(request, "law_edit.html", doc=indexed, shown=shown, fixed=fixed,
                  fields=VALIDITY_FIELDS)


@router.post("/admin/laws/{doc_id:path}")
def law_save(request: Request, doc_id: str, me: AdminUser, form: Form, session: DbSession,
             searcher: SearcherDep):
    _document(searcher, session, doc_id)  # 404 for a document the index does not have
    try:
        update = corrections.ValidityUpdate(**{f: form.get(f) or "" for f in VALIDITY_FIELDS})
    except ValidationError as exc:
        problems = "; ".join(str(e["msg"]).removeprefix("Value error, ") for e in exc.errors())
        session_of(request).flash(f"Chưa lưu: {problems}.", "error")
        return redirect(f"/inbox/admin/laws/{quote(doc_id, safe='/')}")
    corrections.save(session, doc_id, update, actor=me.actor)
    audit(session, actor=me.actor, action="law.validity", target=doc_id,
          details=update.model_dump(exclude_none=True))
    session.commit()
    session_of(request).flash("Đã lưu hiệu lực văn bản; câu trả lời từ giờ dùng thông tin này.")
    return redirect("/inbox/admin/laws")


# --- accounts ----------------------------------------------------------------------------------

@router.get("/admin/users")
def user_list(request: Request, me: AdminUser, session: DbSession):
    users = list(session.scalars(select(User).order_by(User.active.desc(), User.username)))
    names = departments.department_names(session)
    return render(request, "users.html", users=users, departments=names, roles=USER_ROLES)


@router.post("/admin/users")
def user_create(request: Request, me: AdminUser, form: Form, session: DbSession):
    username = (form.get("username") or "").strip()
    try:
        if not username or len(username) > 100 or any(c.isspace() for c in username):
            raise Invalid("Tên đăng nhập cần 1–100 ký tự, không có khoảng trắng.")
        role, department = form.get("role") or "", form.get("department") or None
        if role == "liaison" and department:
            departments.get_department(session, code=department)
        user = create_user(
            session, username=username, password=form.get("password") or "", role=role,
            full_name=(form.get("full_name") or "").strip()[:200], department=department,
        )
        audit(session, actor=me.actor, action="user.create", target=username,
              details={"role": user.role, "department": user.department_code})
        session.commit()
        session_of(request).flash(f"Đã tạo tài khoản {username}.")
    except DomainError as exc:
        session.rollback()
        session_of(request).flash(exc.message, "error")
    return redirect("/inbox/admin/users")


@router.post("/admin/users/{user_id}/deactivate")
def user_deactivate(request: Request, user_id: int, me: AdminUser, form: Form,
                    session: DbSession):
    user = session.get(User, user_id)
    if user is None:
        raise PageError(404, "Không tìm thấy tài khoản.")
    if user.id == me.user_id:
        session_of(request).flash("Không thể tự khóa tài khoản của chính mình.", "error")
        return redirect("/inbox/admin/users")
    if user.active:
        user.active = False
        ended = end_user_sessions(session, user_id=user.id, reason="deactivated")
        audit(session, actor=me.actor, action="user.deactivate", target=user.username,
              details={"ip": client_ip(request), "sessions_ended": ended})
        session.commit()
    session_of(request).flash(f"Đã khóa tài khoản {user.username}.")
    return redirect("/inbox/admin/users")


@router.post("/admin/users/{user_id}/password")
def user_reset_password(request: Request, user_id: int, me: AdminUser, form: Form,
                        session: DbSession):
    """A temporary password from an admin: the owner's sessions end, and the owner must choose
    another at the next login."""
    user = session.get(User, user_id)
    if user is None or not user.active:
        raise PageError(404, "Không tìm thấy tài khoản.")
    if user.id == me.user_id:
        session_of(request).flash("Hãy đổi mật khẩu của chính mình ở trang Đổi mật khẩu.",
                                  "error")
        return redirect("/inbox/admin/users")
    try:
        passwords.set_password(session, user=user, password=form.get("password") or "",
                               actor=me.actor, ip=client_ip(request), must_change=True)
        session.commit()
        session_of(request).flash(f"Đã đặt lại mật khẩu cho {user.username}; người dùng sẽ "
                                  "phải đổi mật khẩu khi đăng nhập.")
    except DomainError as exc:
        session.rollback()
        session_of(request).flash(exc.message, "error")
    return redirect("/inbox/admin/users")
