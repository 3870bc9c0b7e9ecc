"""The officials' inbox over HTTP: a real server, real cookies, on SQLite and on PostgreSQL."""

from __future__ import annotations

import html
import re
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from http.cookiejar import CookieJar

import pytest
from sqlalchemy import select

from feedback_api.departments.codes import CENTRAL
from tests.feedback_api.server import Api, cli, service_env

PASSWORD = "mat-khau-thu-nghiem-1"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
HOSTILE = '<script>alert("xss")</script><img src=x onerror="alert(2)"> Rác thải ở chợ Sa Pa'


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


class Page:
    def __init__(self, status: int, headers, body: bytes) -> None:
        self.status, self.headers, self.body = status, headers, body
        self.text = body.decode("utf-8", errors="replace")

    @property
    def location(self) -> str:
        return self.headers.get("location", "")


class Browser:
    """Cookies, no automatic redirects, and the CSRF token of the last page seen."""

    def __init__(self, base: str) -> None:
        self.base, self.jar, self.csrf = base, CookieJar(), None
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.jar), _NoRedirect)

    def open(self, method: str, path: str, data: bytes | None = None,
             headers: dict | None = None) -> Page:
        req = urllib.request.Request(self.base + path, data=data, method=method,
                                     headers=headers or {})
        try:
            with self.opener.open(req, timeout=60) as resp:
                page = Page(resp.status, resp.headers, resp.read())
        except urllib.error.HTTPError as err:
            page = Page(err.code, err.headers, err.read())
        if found := CSRF.search(page.text):
            self.csrf = found.group(1)
        return page

    def get(self, path: str) -> Page:
        return self.open("GET", path)

    def post(self, path: str, fields: dict, *, csrf: str | None | bool = True) -> Page:
        fields = dict(fields)
        if csrf is True:
            fields["csrf_token"] = self.csrf
        elif csrf:
            fields["csrf_token"] = csrf
        body = urllib.parse.urlencode(fields).encode()
        return self.open("POST", path, body,
                         {"Content-Type": "application/x-www-form-urlencoded"})

    def login(self, username: str, password: str = PASSWORD) -> Page:
        self.get("/inbox/login")
        return self.post("/inbox/login", {"username": username, "password": password})


@pytest.fixture(scope="module")
def inbox(db_url, database, model_dir, smtp):
    env = service_env(db_url, model_dir, smtp.port)
    for username, role, dept in (("hop-thu-admin", "admin", None),
                                 ("hop-thu-vanphong", "triage", None),
                                 ("hop-thu-yte", "liaison", "y-te")):
        extra = ["--department", dept] if dept else []
        cli("user", "create", "--username", username, "--role", role, "--password", PASSWORD,
            *extra, env=env)
    server = Api(env)
    server.service = cli("token", "create", "--role", "service", "--name", "inbox-test", env=env)
    server.admin = cli("token", "create", "--role", "admin", "--name", "inbox-admin", env=env)
    yield server
    server.stop()


def make_item(api: Api, text: str, department: str, **fields) -> str:
    """A feedback item (through the API) that ends up in ``department``."""
    body = {"kind": "complaint", "channel": "zalo", "sender_id": f"zalo-{uuid.uuid4().hex[:8]}",
            "text": text, "idempotency_key": f"inbox-{uuid.uuid4().hex}", **fields}
    status, created = api.request("POST", "/api/v1/feedback?wait=10", body, token=api.service)
    assert status == 201, created
    code = created["tracking_code"]
    deadline = time.monotonic() + 60
    while created["status"] == "new" and time.monotonic() < deadline:  # the worker routes it
        time.sleep(0.2)
        created = api.request("GET", f"/api/v1/feedback/{code}", token=api.admin)[1]
    if created["department"] != department:
        status, item = api.request("PATCH", f"/api/v1/feedback/{code}",
                                   {"department": department, "reason": "test"}, token=api.admin)
        assert status == 200, item
    return code


def logged_in(api: Api, username: str) -> Browser:
    browser = Browser(api.base)
    page = browser.login(username)
    assert page.status == 303, page.text
    assert browser.get("/inbox").status == 200  # the CSRF token changes at login
    return browser


def events(database, code: str) -> list:
    from feedback_api.feedback.orm import FeedbackEvent, FeedbackItem

    with database.session() as s:
        return list(s.scalars(select(FeedbackEvent).join(FeedbackItem)
                              .where(FeedbackItem.tracking_code == code)
                              .order_by(FeedbackEvent.id)))


def audits(database, action: str, target: str) -> list:
    from feedback_api.auth.orm import AuditEntry

    with database.session() as s:
        return list(s.scalars(select(AuditEntry).where(AuditEntry.action == action,
                                                       AuditEntry.target == target)))


@pytest.mark.parametrize("path", ["/inbox", "/inbox/items/PA-ABCDEFGH", "/inbox/dashboard",
                                  "/inbox/export.csv", "/inbox/admin/users"])
def test_pages_need_login(inbox, path):
    page = Browser(inbox.base).get(path)
    assert page.status == 303
    assert page.location == "/inbox/login?" + urllib.parse.urlencode({"next": path})


def test_login_sets_a_safe_cookie_and_logout_ends_it(inbox):
    browser = Browser(inbox.base)
    assert browser.get("/inbox/login").status == 200
    page = browser.post("/inbox/login", {"username": "hop-thu-vanphong", "password": PASSWORD,
                                         "next": "/inbox/dashboard"})
    assert page.status == 303 and page.location == "/inbox/dashboard"
    cookie = page.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "max-age=43200" in cookie
    assert browser.get("/inbox").status == 200
    before = next(c.value for c in browser.jar if c.name == "caunoi_inbox")
    assert browser.post("/inbox/logout", {}).location == "/inbox/login"
    assert browser.get("/inbox").status == 303
    # The cookie from before the logout, replayed (copied by malware, or from a shared
    # computer's disk): the server ended that session, so it opens nothing.
    replayed = browser.open("GET", "/inbox", headers={"Cookie": f"caunoi_inbox={before}"})
    assert replayed.status == 303 and replayed.location.startswith("/inbox/login")
    page = browser.open("GET", "/api/v1/feedback?limit=1",
                        headers={"Cookie": f"caunoi_inbox={before}"})
    assert page.status == 401


@pytest.mark.parametrize(("username", "password"), [("hop-thu-admin", "sai-mat-khau-123"),
                                                    ("khong-ton-tai", PASSWORD)])
def test_wrong_password_is_refused(inbox, username, password):
    browser = Browser(inbox.base)
    page = browser.login(username, password)
    assert page.status == 401 and "Tên đăng nhập hoặc mật khẩu không đúng" in page.text
    assert browser.get("/inbox").status == 303


def test_open_redirect_after_login_is_refused(inbox):
    browser = Browser(inbox.base)
    browser.get("/inbox/login")
    page = browser.post("/inbox/login", {"username": "hop-thu-admin", "password": PASSWORD,
                                         "next": "//evil.example/inbox"})
    assert page.status == 303 and page.location == "/inbox"


def test_liaison_sees_only_own_department(inbox, database):
    own = make_item(inbox, "Trạm y tế xã Bản Hồ đóng cửa vào giờ hành chính", "y-te")
    other = make_item(inbox, "Học phí trường THCS tăng cao bất thường", "giao-duc")
    liaison = logged_in(inbox, "hop-thu-yte")
    link = f"/inbox/items/{other}"
    listing = liaison.get("/inbox")
    assert f"/inbox/items/{own}" in listing.text and link not in listing.text
    assert link not in liaison.get("/inbox?department=giao-duc").text
    assert link not in liaison.get(f"/inbox?q={other}").text
    assert liaison.get(f"/inbox/items/{own}").status == 200
    assert liaison.get(f"/inbox/items/{other}").status == 404
    before = len(events(database, other))
    assert liaison.post(f"/inbox/items/{other}/note", {"text": "thử"}).status == 404
    assert len(events(database, other)) == before
    csv_text = liaison.get("/inbox/export.csv").body.decode("utf-8-sig")
    assert own in csv_text and other not in csv_text
    assert link in logged_in(inbox, "hop-thu-vanphong").get("/inbox").text


def test_citizen_text_is_always_escaped(inbox):
    code = make_item(inbox, HOSTILE, "nong-nghiep-moi-truong")
    triage = logged_in(inbox, "hop-thu-vanphong")
    triage.post(f"/inbox/items/{code}/note", {"text": "<b onclick=alert(3)>ghi chú</b>"})
    for path in (f"/inbox/items/{code}", f"/inbox?q={urllib.parse.quote(code)}"):
        page = triage.get(path)
        assert page.status == 200
        assert "<script>alert" not in page.text and "<img src=x" not in page.text
        assert "&lt;script&gt;alert(" in page.text
    detail = triage.get(f"/inbox/items/{code}").text
    assert "<b onclick" not in detail and "&lt;b onclick=alert(3)&gt;ghi chú&lt;/b&gt;" in detail


def test_forms_without_the_csrf_token_are_refused(inbox, database):
    code = make_item(inbox, "Đèn đường thôn 2 hỏng cả tháng", "xay-dung")
    triage = logged_in(inbox, "hop-thu-vanphong")
    other = logged_in(inbox, "hop-thu-admin")
    triage.get(f"/inbox/items/{code}")
    before = len(events(database, code))
    for csrf in (None, "sai-ma", other.csrf):
        page = triage.post(f"/inbox/items/{code}/note", {"text": "không được lưu"}, csrf=csrf)
        assert page.status == 403 and "CSRF" in page.text
    assert len(events(database, code)) == before
    anonymous = Browser(inbox.base)
    page = anonymous.post("/inbox/login", {"username": "hop-thu-admin", "password": PASSWORD},
                          csrf=None)
    assert page.status == 403


def test_every_action_leaves_an_event(inbox, database):
    code = make_item(inbox, "Cột điện đổ chắn đường vào thôn Sín Chải", "cong-thuong")
    twin = make_item(inbox, "Cột điện bị đổ chắn đường thôn Sín Chải chưa ai dọn", "cong-thuong")
    triage = logged_in(inbox, "hop-thu-vanphong")
    url = f"/inbox/items/{code}"
    assert code in triage.get(f"/inbox/items/{twin}").text.split("Có thể trùng")[1]
    steps = [
        ("route", {"department": "xay-dung", "reason": "Đường giao thông"}, "rerouted"),
        ("status", {"status": "in_progress", "reason": "Đang xác minh"}, "status"),
        ("priority", {"priority": "high"}, "updated"),
        ("note", {"text": "Đã gọi cho trưởng thôn"}, "note"),
        ("reply", {"text": "Sở Xây dựng đã cử người dọn cột điện."}, "reply"),
    ]
    for action, fields, event in steps:
        page = triage.post(f"{url}/{action}", fields)
        assert page.status == 303 and page.location == url
        last = events(database, code)[-1]
        assert last.action == event and last.actor == "user:hop-thu-vanphong", action
    shown = triage.get(url).text
    assert "Đã gửi trả lời cho người dân." in shown and "Đã trả lời" in shown
    assert "Đang xác minh" in shown and "Sở Xây dựng" in shown
    page = triage.post(f"/inbox/items/{twin}/merge", {"into": code, "reason": "Trùng"})
    assert page.status == 303 and events(database, twin)[-1].to_value == "merged"


def test_domain_errors_are_vietnamese_messages_not_500(inbox, database):
    code = make_item(inbox, "Nước sinh hoạt ở tổ 5 bị đục", "nong-nghiep-moi-truong")
    triage = logged_in(inbox, "hop-thu-vanphong")
    url = f"/inbox/items/{code}"
    before = len(events(database, code))
    for action, fields in [("status", {"status": "closed"}), ("reply", {"text": "  "}),
                           ("merge", {"into": code}), ("route", {"department": "khong-co",
                                                                 "reason": "x"}),
                           ("priority", {"priority": "cao"}), ("status", {"status": "bay"})]:
        page = triage.post(f"{url}/{action}", fields)
        assert page.status == 303, (action, page.status)
        shown = triage.get(url).text
        assert 'class="flash flash-error"' in shown, action
    assert len(events(database, code)) == before
    triage.post(f"{url}/status", {"status": "closed"})
    assert "Không thể chuyển từ" in triage.get(url).text


def test_csv_export_has_bom_and_no_personal_data(inbox):
    code = make_item(inbox, "=HYPERLINK(\"http://x\") Chợ Cốc Lếu bán hàng giả", "cong-thuong",
                     contact={"name": "Lò Thị Mai", "phone": "0987654321", "consent": True})
    triage = logged_in(inbox, "hop-thu-vanphong")
    page = triage.get(f"/inbox/export.csv?q={code}")
    assert page.status == 200 and page.headers["content-type"].startswith("text/csv")
    assert page.body.startswith(b"\xef\xbb\xbf")
    text = page.body.decode("utf-8-sig")
    lines = text.strip().splitlines()
    assert lines[0].startswith("Mã theo dõi,Loại,Trạng thái,Cơ quan")
    assert len(lines) == 2 and code in lines[1] and "Sở Công Thương" in lines[1]
    assert "'=HYPERLINK" in lines[1]  # a spreadsheet must not run citizens' text as a formula
    assert "0987654321" not in text and "Lò Thị Mai" not in text and "zalo-" not in text


TOTAL = re.compile(r'<li class="st-([a-z_]+)">[^<]*<b>(\d+)</b>')


def dashboard_counts(page: Page) -> dict[str, int]:
    """The status totals at the top of the dashboard, and ``weeks`` (the 12-week total)."""
    counts = {status: int(n) for status, n in TOTAL.findall(page.text)}
    counts["weeks"] = int(re.search(r"12 tuần gần nhất: (\d+)", page.text).group(1))
    return counts


def stored_counts(database, department: str | None) -> dict[str, int]:
    """The same totals counted in the database, for one department or for all."""
    from sqlalchemy import func

    from feedback_api.db import utcnow
    from feedback_api.feedback import lifecycle
    from feedback_api.feedback.orm import FeedbackItem
    from feedback_api.inbox.stats import week_starts

    scope = [] if department is None else [FeedbackItem.department_code == department]
    with database.session() as s:
        rows = dict(s.execute(select(FeedbackItem.status, func.count())
                              .where(*scope).group_by(FeedbackItem.status)).all())
        weeks = s.scalar(select(func.count()).where(
            FeedbackItem.created_at >= week_starts(utcnow())[0], *scope))
    return {**{status: rows.get(status, 0) for status in lifecycle.STATUSES}, "weeks": weeks}


def test_dashboard_renders_svg_charts(inbox, database):
    from feedback_api.departments.orm import Department

    make_item(inbox, "Bệnh viện huyện thiếu thuốc", "y-te")
    make_item(inbox, "Trường mầm non thôn 4 dột nát, mưa là học sinh phải nghỉ", "giao-duc")
    page = logged_in(inbox, "hop-thu-admin").get("/inbox/dashboard")
    assert page.status == 200
    assert page.text.count("<svg") >= 2 and "Sở Y tế" in page.text
    assert "Theo tuần" in page.text and "Quá hạn theo cơ quan" in page.text
    assert dashboard_counts(page) == stored_counts(database, None)
    liaison = logged_in(inbox, "hop-thu-yte").get("/inbox/dashboard")
    assert liaison.status == 200
    # A liaison's dashboard counts and names only the own department's items.
    counts = dashboard_counts(liaison)
    assert counts == stored_counts(database, "y-te") and counts != stored_counts(database, None)
    with database.session() as s:
        others = [d.name for d in s.scalars(select(Department).where(Department.code != "y-te"))]
    assert "Sở Y tế" in liaison.text and "Sở Giáo dục và Đào tạo" in page.text
    assert [name for name in others if html.escape(name) in liaison.text] == []
    assert "Chưa phân loại" not in liaison.text


def test_liaison_merge_suggestions_and_merges_stay_in_the_department(inbox, database):
    from feedback_api.feedback.orm import FeedbackItem

    tag = uuid.uuid4().hex[:6]
    text = f"Trạm y tế xã Cốc San {tag} hết thuốc hạ sốt cho trẻ em, người dân phải mua ngoài"
    own = make_item(inbox, text, "y-te")
    twin = make_item(inbox, text + " từ tuần trước", "y-te")
    foreign = make_item(inbox, text + " nhiều ngày", "giao-duc")
    liaison = logged_in(inbox, "hop-thu-yte")
    page = liaison.get(f"/inbox/items/{own}")
    assert page.status == 200
    suggested = page.text.split("Có thể trùng")[1].split("</ul>")[0]
    assert twin in suggested and foreign not in suggested and foreign not in page.text
    # Merging into another department's item is refused like an unknown code; nothing changes.
    before = len(events(database, own))
    page = liaison.post(f"/inbox/items/{own}/merge", {"into": foreign, "reason": "Trùng"})
    assert page.status == 303
    shown = liaison.get(page.location).text
    assert 'class="flash flash-error"' in shown and f"Không tìm thấy phản ánh có mã {foreign}" \
        in shown
    assert len(events(database, own)) == before
    with database.session() as s:
        item = s.scalar(select(FeedbackItem).where(FeedbackItem.tracking_code == own))
        assert item.status != "merged" and item.merged_into_id is None


def test_admin_pages_are_for_admins_only(inbox):
    for username in ("hop-thu-yte", "hop-thu-vanphong"):
        browser = logged_in(inbox, username)
        browser.get("/inbox")
        assert browser.get("/inbox/admin/users").status == 403
        assert browser.get("/inbox/admin/departments").status == 403
        page = browser.post("/inbox/admin/departments/y-te", {"name": "Bị đổi"})
        assert page.status == 403
        page = browser.post("/inbox/admin/users", {"username": "x", "role": "admin",
                                                   "password": PASSWORD})
        assert page.status == 403


def test_admin_edits_department_and_is_audited(inbox, database):
    admin = logged_in(inbox, "hop-thu-admin")
    assert admin.get("/inbox/admin/departments/tu-phap").status == 200
    fields = {"name": "Sở Tư pháp tỉnh Lào Cai", "mandate": "Hộ tịch, công chứng, lý lịch tư pháp",
              "liaison_name": "Nguyễn Văn Bình", "liaison_email": "binh@laocai.example",
              "liaison_zalo_user_id": "123456", "liaison_phone": "0214 3840 000",
              "webhook_url": ""}
    page = admin.post("/inbox/admin/departments/tu-phap", fields)
    assert page.status == 303 and page.location == "/inbox/admin/departments"
    listing = admin.get("/inbox/admin/departments").text
    assert "Sở Tư pháp tỉnh Lào Cai" in listing and "binh@laocai.example" in listing
    assert audits(database, "department.update", "tu-phap")
    page = admin.post("/inbox/admin/departments/tu-phap", {**fields, "liaison_email": "khong"})
    assert page.status == 303 and "flash-error" in admin.get(page.location).text
    assert admin.get("/inbox/admin/departments/khong-co").status == 404


def test_admin_creates_and_deactivates_users_and_is_audited(inbox, database):
    from feedback_api.auth.orm import User

    admin = logged_in(inbox, "hop-thu-admin")
    admin.get("/inbox/admin/users")
    page = admin.post("/inbox/admin/users", {"username": "dau-moi-gd", "full_name": "Lê Thị Hoa",
                                             "role": "liaison", "department": "giao-duc",
                                             "password": PASSWORD})
    assert page.status == 303 and "Đã tạo tài khoản" in admin.get("/inbox/admin/users").text
    assert audits(database, "user.create", "dau-moi-gd")
    new_user = logged_in(inbox, "dau-moi-gd")
    assert new_user.get("/inbox").status == 200
    with database.session() as s:
        user_id = s.scalar(select(User.id).where(User.username == "dau-moi-gd"))
    admin.get("/inbox/admin/users")
    assert admin.post(f"/inbox/admin/users/{user_id}/deactivate", {}).status == 303
    assert audits(database, "user.deactivate", "dau-moi-gd")
    assert new_user.get("/inbox").status == 303  # the open session ends at once
    assert Browser(inbox.base).login("dau-moi-gd").status == 401
    page = admin.post("/inbox/admin/users", {"username": "dau-moi-gd", "role": "triage",
                                             "password": PASSWORD})
    assert "flash-error" in admin.get(page.location).text


def test_json_api_accepts_the_session_cookie_with_csrf_header(inbox):
    code = make_item(inbox, "Chợ phiên Bắc Hà thiếu nhà vệ sinh công cộng", "cong-thuong")
    triage = logged_in(inbox, "hop-thu-vanphong")
    page = triage.get(f"/api/v1/feedback/{code}")
    assert page.status == 200 and code in page.text
    triage.get("/inbox")
    body = b'{"priority": "urgent"}'
    page = triage.open("PATCH", f"/api/v1/feedback/{code}", body,
                       {"Content-Type": "application/json"})
    assert page.status == 401
    page = triage.open("PATCH", f"/api/v1/feedback/{code}", body,
                       {"Content-Type": "application/json", "X-CSRF-Token": triage.csrf})
    assert page.status == 200 and '"priority":"urgent"' in page.text
    assert "<dt>Ưu tiên</dt><dd>Khẩn</dd>" in html.unescape(triage.get(f"/inbox/items/{code}").text)


def test_overdue_and_unrouted_items_stand_out_and_filter(inbox, database):
    from datetime import timedelta

    from feedback_api.db import utcnow
    from feedback_api.feedback.orm import FeedbackItem

    late = make_item(inbox, "Hồ sơ cấp sổ đỏ nộp từ năm ngoái chưa có kết quả",
                     "nong-nghiep-moi-truong",
                     citations=[{"law_id": "Luật Đất đai 2024", "article_id": "135"}])
    unsure = make_item(inbox, "Xin hỏi về việc chung của thôn", CENTRAL)
    with database.session() as s:
        s.scalar(select(FeedbackItem).where(FeedbackItem.tracking_code == late)).due_at = \
            utcnow() - timedelta(days=3)
        s.scalar(select(FeedbackItem).where(FeedbackItem.tracking_code == unsure)) \
            .needs_routing = True
    triage = logged_in(inbox, "hop-thu-vanphong")
    overdue = triage.get("/inbox?overdue=1").text
    row = overdue.split(f"/inbox/items/{late}")[0].rsplit("<tr", 1)[1]
    assert 'class="overdue' in row and "Quá hạn" in overdue.split(f"/inbox/items/{late}")[1]
    assert f"/inbox/items/{unsure}" not in overdue
    unrouted = triage.get("/inbox?needs_routing=1").text
    assert f"/inbox/items/{unsure}" in unrouted and "cần phân loại" in unrouted
    assert f"/inbox/items/{late}" not in unrouted
    detail = triage.get(f"/inbox/items/{late}").text
    assert "Quá hạn" in detail and "Điều 135 Luật Đất đai 2024" in detail
    for page in ("999", "abc", "-1"):
        assert triage.get(f"/inbox?page={page}&status=zzz&overdue=maybe").status == 200


def test_cited_articles_are_looked_up_in_the_index_passages():
    from types import SimpleNamespace

    from feedback_api.inbox.articles import article_table, cited_passages

    def passage(article_id, text):
        return SimpleNamespace(doc_id="Luật Cư trú 2020", doc_title="Luật Cư trú 2020",
                               article_id=article_id, article_title="Nơi thường trú", text=text)

    searcher = SimpleNamespace(passages=[passage("20", "1. Công dân có chỗ ở hợp pháp"),
                                         passage("20", "2. Được chủ hộ đồng ý")])
    found, missing = cited_passages(article_table(searcher), [
        {"law_id": "Luật Cư trú 2020", "article_id": "20"},
        {"law_id": "Luật Đất đai 2024", "article_id": "135"}])
    assert found["citation"] == "Điều 20 Luật Cư trú 2020" and found["title"] == "Nơi thường trú"
    assert found["text"] == "1. Công dân có chỗ ở hợp pháp\n2. Được chủ hộ đồng ý"
    assert missing == {"citation": "Điều 135 Luật Đất đai 2024", "title": None, "text": None,
                       "related": False}
    (shown,) = cited_passages(article_table(searcher), [
        {"law_id": "Luật Cư trú 2020", "article_id": "20", "related": True}])
    assert shown["related"] is True  # shown to the citizen only as "có thể liên quan"


def test_similar_terms_ignore_diacritics_and_function_words():
    from feedback_api.feedback.similar import overlap, terms

    a = terms("Cột điện bị đổ chắn đường ở thôn 3")
    b = terms("cot dien do chan duong thon 3 chua ai don")
    assert "bi" not in a and "cot_dien" in a and overlap(a, b) >= 0.8
    assert overlap(a, terms("Học phí trường THCS tăng cao")) == 0
