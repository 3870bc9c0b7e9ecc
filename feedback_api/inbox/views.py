"""The officials' inbox: the filtered list, CSV export, one item and its actions.

Pages only: the work is done by feedback.service and feedback.flows. Every form carries the
session's CSRF token; every POST redirects (post/redirect/get) with a flash message.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from math import ceil
from urllib.parse import urlencode

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy.orm import Session

from feedback_api.auth.service import Principal, audit
from feedback_api.channels.senders import is_window_closed
from feedback_api.departments import service as departments
from feedback_api.departments.codes import CENTRAL
from feedback_api.deps import DbSession, SearcherDep, SettingsDep
from feedback_api.errors import DomainError, Forbidden, Invalid, NotFound
from feedback_api.feedback import flows, lifecycle, service
from feedback_api.feedback.orm import FeedbackItem
from feedback_api.feedback.similar import similar_items
from feedback_api.inbox import export
from feedback_api.inbox.articles import CitedArticles, InboxArticles
from feedback_api.inbox.pages import (
    HERE,
    KINDS,
    PRIORITIES,
    Form,
    PageError,
    Viewer,
    install_error_pages,
    redirect,
    render,
)
from feedback_api.inbox.sessions import SessionStore, install_sessions, session_of
from feedback_api.notify import service as outbox
from feedback_api.notify.orm import OutboxMessage
from feedback_api.settings import Settings

router = APIRouter(prefix="/inbox", include_in_schema=False)
PAGE_SIZE = 25
EXPORT_LIMIT = 10_000
MAX_TEXT = 5000
MAX_REASON = 1000
WEB_CHANNELS = ("web", "api")  # replies land in the web chat (citizen_message), not a platform
WINDOW_CLOSED = ("Không gửi được: ngoài khung thời gian nền tảng cho phép nhắn tin (người dân cần "
                 "nhắn lại trước). Trả lời vẫn xem được trên trang tra cứu.")
RETRY_REASON = "Gửi lại trả lời cho người dân"
NOTHING_TO_RETRY = ("Không có trả lời nào gửi thất bại để gửi lại: trả lời gần nhất đã gửi, "
                    "đang gửi, hoặc phản ánh chưa có trả lời gửi qua kênh nhắn tin.")


def install(app: FastAPI, settings: Settings) -> None:
    """Pages, static files, the session middleware and the HTML error pages."""
    from feedback_api.inbox.account import router as account_router
    from feedback_api.inbox.admin import router as admin_router

    store = SessionStore(settings.key("inbox-session"), secure=settings.secure_cookies,
                         idle=timedelta(minutes=settings.session_idle_minutes))
    app.state.inbox_articles = CitedArticles()
    install_sessions(app, store)
    install_error_pages(app)
    app.include_router(account_router)
    app.include_router(router)
    app.include_router(admin_router)
    app.mount("/inbox/static", StaticFiles(directory=HERE / "static"), name="inbox-static")


def clean(text: str | None, *, limit: int, required: str | None = None) -> str | None:
    """NFC, trimmed, at most ``limit`` characters; ``required`` is the error when empty."""
    value = unicodedata.normalize("NFC", (text or "").strip())
    if not value:
        if required:
            raise Invalid(required)
        return None
    if len(value) > limit:
        raise Invalid(f"Nội dung dài quá {limit} ký tự.")
    return value


# --- list and export -------------------------------------------------------------------------

def _visibility(me: Principal) -> set[str] | None:
    return {me.department or ""} if me.role == "liaison" else None


def _yes_no(value: str | None) -> bool | None:
    return {"1": True, "0": False}.get(value or "")


def list_filters(request: Request, me: Principal) -> tuple[service.Filters, dict[str, str]]:
    """Filters from the query string (unknown values ignored) and the normalised query."""
    p = request.query_params
    query = {
        "status": p.get("status") if p.get("status") in lifecycle.STATUSES else "",
        "department": (p.get("department") or "")[:40],
        "kind": p.get("kind") if p.get("kind") in KINDS else "",
        "commune": (p.get("commune") or "").strip()[:200],
        "overdue": p.get("overdue") if p.get("overdue") in ("1", "0") else "",
        "needs_routing": p.get("needs_routing") if p.get("needs_routing") in ("1", "0") else "",
        "q": (p.get("q") or "").strip()[:200],
    }
    filters = service.Filters(
        status=query["status"] or None, department=query["department"] or None,
        departments=_visibility(me), kind=query["kind"] or None,
        commune=query["commune"] or None, overdue=_yes_no(query["overdue"]),
        needs_routing=_yes_no(query["needs_routing"]), text=query["q"] or None,
        order="due" if p.get("order") == "due" else "newest",
    )
    return filters, {k: v for k, v in query.items() if v}


@router.get("")
def inbox(request: Request, me: Viewer, session: DbSession):
    filters, query = list_filters(request, me)
    raw = request.query_params.get("page") or "1"
    page = max(1, min(int(raw) if raw.isdigit() else 1, 100_000))
    filters.limit, filters.offset = PAGE_SIZE, (page - 1) * PAGE_SIZE
    items, total, counts = service.list_items(session, filters=filters)
    names = departments.department_names(session)
    if me.role == "liaison":
        names = {k: v for k, v in names.items() if k == me.department}
    return render(
        request, "list.html", items=items, total=total, counts=counts, query=query,
        page=page, pages=max(1, ceil(total / PAGE_SIZE)), departments=names,
        overdue={i.id for i in items if service.is_overdue(i)},
        export_url="/inbox/export.csv" + (f"?{urlencode(query)}" if query else ""),
    )


@router.get("/export.csv")
def export_csv(request: Request, me: Viewer, session: DbSession):
    filters, query = list_filters(request, me)
    filters.limit = EXPORT_LIMIT
    items, total, _ = service.list_items(session, filters=filters)
    body = export.to_csv(items, departments.department_names(session))
    audit(session, actor=me.actor, action="feedback.export", target="inbox",
          details={"filters": query, "rows": len(items)})
    session.commit()
    return Response(body, media_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": 'attachment; filename="phan-anh.csv"',
        "Cache-Control": "no-store",
    })


# --- one item ---------------------------------------------------------------------------------

def visible_item(session: Session, me: Principal, code: str) -> FeedbackItem:
    """The item, or a 404 page (also for another department's item seen by a liaison)."""
    try:
        item = service.get_by_code(session, code=code)
    except NotFound as exc:
        raise PageError(404, exc.message) from exc
    if not me.sees(item.department_code):
        raise PageError(404, f"Không tìm thấy phản ánh có mã {item.tracking_code}.")
    return item


@dataclass(frozen=True)
class Delivery:
    """How far the last reply to the citizen got, as the item page says it."""

    state: str  # sent | sending | retrying | window_closed | failed (CSS class, tests)
    text: str
    sent_at: datetime | None = None
    can_retry: bool = False  # what outbox.requeue accepts


def last_reply(session: Session, item: FeedbackItem) -> OutboxMessage | None:
    """The outbox row of the newest reply (None when there was nobody to send it to)."""
    rows = outbox.messages_for(session, dedupe_prefix=f"reply:{item.tracking_code}:")
    return rows[-1] if rows else None


def delivery(item: FeedbackItem, message: OutboxMessage | None) -> Delivery | None:
    """An official must see whether the citizen got the answer, and why not."""
    if message is None:
        return None
    error = message.last_error
    if message.status == "sent":
        text = ("Đã chuyển vào khung chat của người dân" if item.channel in WEB_CHANNELS
                else "Đã gửi đến người dân")
        return Delivery("sent", text, sent_at=message.sent_at)
    if message.status == "dead":
        if is_window_closed(error):
            return Delivery("window_closed", WINDOW_CLOSED, can_retry=True)
        return Delivery("failed", f"Gửi thất bại: {error or 'không rõ lý do'}", can_retry=True)
    if error:
        return Delivery("retrying", f"Đang gửi lại sau lỗi: {error}",
                        can_retry=message.status == "pending")
    return Delivery("sending", "Đang gửi")


@router.get("/items/{code}")
def item_page(request: Request, code: str, me: Viewer, session: DbSession,
              searcher: SearcherDep, articles: InboxArticles):
    item = visible_item(session, me, code)
    names = departments.department_names(session)
    targets = names if me.role != "liaison" else {CENTRAL: names.get(CENTRAL, CENTRAL)}
    return render(
        request, "item.html", item=item, departments=names, route_targets=targets,
        overdue=service.is_overdue(item), merged_into=service.merged_into_code(session, item),
        passages=articles.lookup(searcher, item.citations),
        next_statuses=[s for s in lifecycle.next_statuses(item.status) if s != "merged"],
        can_reroute=item.status in lifecycle.OPEN, can_reply=item.status not in
        ("new", "rejected", "merged"), similar=similar_items(session, item=item),
        delivery=delivery(item, last_reply(session, item)),
    )


def act(request: Request, session: Session, me: Principal, code: str,
        change: Callable[[FeedbackItem], str]):
    """Apply one change, commit, flash its message (or the domain error) and go back."""
    item = visible_item(session, me, code)
    back = f"/inbox/items/{item.tracking_code}"
    try:
        message = change(item)
        session.commit()
        session_of(request).flash(message)
    except DomainError as exc:
        session.rollback()
        session_of(request).flash(exc.message, "error")
    return redirect(back)


@router.post("/items/{code}/route")
def reroute(request: Request, code: str, me: Viewer, form: Form, session: DbSession,
            settings: SettingsDep):
    def change(item: FeedbackItem) -> str:
        target = (form.get("department") or "").strip()
        if me.role == "liaison" and target != CENTRAL:
            raise Forbidden("Đầu mối chỉ có thể trả phản ánh về Văn phòng UBND tỉnh "
                            "để phân loại lại.")
        reason = clean(form.get("reason"), limit=MAX_REASON,
                       required="Hãy ghi lý do chuyển cơ quan.")
        flows.assign(session, item=item, department=target, actor=me.actor,
                     public_url=settings.public_url, reason=reason)
        return f"Đã chuyển đến {departments.get_department(session, code=target).name}."

    return act(request, session, me, code, change)


@router.post("/items/{code}/status")
def set_status(request: Request, code: str, me: Viewer, form: Form, session: DbSession):
    def change(item: FeedbackItem) -> str:
        status = form.get("status") or ""
        if status == "merged" or status not in lifecycle.STATUSES:
            raise Invalid("Hãy chọn một trạng thái hợp lệ.")
        service.change_status(session, item=item, status=status, actor=me.actor,
                              reason=clean(form.get("reason"), limit=MAX_REASON))
        return f"Đã chuyển trạng thái sang “{lifecycle.LABELS[status]}”."

    return act(request, session, me, code, change)


@router.post("/items/{code}/reply")
def reply(request: Request, code: str, me: Viewer, form: Form, session: DbSession):
    def change(item: FeedbackItem) -> str:
        text = clean(form.get("text"), limit=MAX_TEXT, required="Nội dung trả lời đang trống.")
        flows.reply(session, item=item, text=text, actor=me.actor)
        return "Đã gửi trả lời cho người dân."

    return act(request, session, me, code, change)


@router.post("/items/{code}/reply/retry")
def retry_reply(request: Request, code: str, me: Viewer, form: Form, session: DbSession):
    """Send the last reply again after it failed: the platform may be back, or the citizen has
    written again since its messaging window closed."""
    def change(item: FeedbackItem) -> str:
        message = last_reply(session, item)
        if message is None or not outbox.requeue(session, message_id=message.id):
            raise PageError(409, NOTHING_TO_RETRY)
        service.add_event(session, item, actor=me.actor, action="retry_delivery",
                          reason=RETRY_REASON)
        return "Đã đưa trả lời vào hàng gửi lại; hệ thống sẽ gửi trong giây lát."

    return act(request, session, me, code, change)


@router.post("/items/{code}/note")
def note(request: Request, code: str, me: Viewer, form: Form, session: DbSession):
    def change(item: FeedbackItem) -> str:
        text = clean(form.get("text"), limit=MAX_TEXT, required="Ghi chú đang trống.")
        service.add_note(session, item=item, text=text, actor=me.actor)
        return "Đã thêm ghi chú nội bộ."

    return act(request, session, me, code, change)


@router.post("/items/{code}/merge")
def merge(request: Request, code: str, me: Viewer, form: Form, session: DbSession):
    def change(item: FeedbackItem) -> str:
        target = (form.get("into") or "").strip()[:20]
        if not target:
            raise Invalid("Hãy nhập mã phản ánh gốc để gộp vào.")
        into = service.get_by_code(session, code=target)
        if not me.sees(into.department_code):
            raise NotFound(f"Không tìm thấy phản ánh có mã {into.tracking_code}.")
        service.merge(session, item=item, into=into, actor=me.actor,
                      reason=clean(form.get("reason"), limit=MAX_REASON))
        return f"Đã gộp vào {into.tracking_code}."

    return act(request, session, me, code, change)


@router.post("/items/{code}/priority")
def priority(request: Request, code: str, me: Viewer, form: Form, session: DbSession):
    def change(item: FeedbackItem) -> str:
        value = form.get("priority") or ""
        if value not in PRIORITIES:
            raise Invalid("Mức ưu tiên không hợp lệ.")
        service.set_priority(session, item=item, priority=value, actor=me.actor)
        return f"Mức ưu tiên: {PRIORITIES[value]}."

    return act(request, session, me, code, change)
