"""The inbox in a real browser: headless Chromium (Debian's, never downloaded) via Playwright.

An official logs in, opens an item a citizen sent with hostile markup, re-routes it, starts
work, replies, sees the status and history change, and logs out; no script ever runs.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest

from tests.feedback_api.server import Api, SmtpSink, cli, service_env

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
PASSWORD = "mat-khau-trinh-duyet-1"
HOSTILE = ('<script>window.__xss = 1; alert("xss")</script>'
           '<img src=x onerror="window.__xss = 2; alert(2)"> Bãi rác tự phát cạnh suối Ngòi Đum')
REPLY = "Sở đã giao Ủy ban nhân dân xã dọn bãi rác trong tuần này."

pytestmark = [
    pytest.mark.parametrize("db_url", ["sqlite"], indirect=True),
    pytest.mark.skipif(not CHROMIUM.exists(),
                       reason="needs Debian's Chromium at /usr/bin/chromium"),
]


@pytest.fixture(scope="module")
def server(db_url, model_dir):
    smtp = SmtpSink().start()
    env = service_env(db_url, model_dir, smtp.port)
    cli("user", "create", "--username", "trinh-duyet", "--role", "triage", "--password",
        PASSWORD, env=env)
    api = Api(env)
    api.service = cli("token", "create", "--role", "service", "--name", "browser", env=env)
    api.triage = cli("token", "create", "--role", "triage", "--name", "browser-t", env=env)
    yield api
    api.stop()
    smtp.stop()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def routed_item(api: Api) -> dict:
    """A citizen's item with hostile markup, after the worker has routed it."""
    status, created = api.request("POST", "/api/v1/feedback?wait=10", {
        "kind": "complaint", "channel": "zalo", "sender_id": "zalo-browser", "text": HOSTILE,
        "location": "xã Ngũ Chỉ Sơn", "idempotency_key": f"browser-{uuid.uuid4().hex}",
    }, token=api.service)
    assert status == 201, created
    deadline = time.monotonic() + 60
    item = created
    while item["status"] == "new" and time.monotonic() < deadline:
        time.sleep(0.2)
        item = api.request("GET", f"/api/v1/feedback/{created['tracking_code']}",
                           token=api.triage)[1]
    assert item["status"] == "routed", item
    return {"code": created["tracking_code"], "department": item["department"]}


def test_triage_works_an_item_in_the_browser(server, browser):
    item = routed_item(server)
    target, target_name = ("giao-duc", "Sở Giáo dục và Đào tạo")
    if item["department"] == target:
        target, target_name = ("xay-dung", "Sở Xây dựng")
    context = browser.new_context(locale="vi-VN")
    page = context.new_page()
    page.set_default_timeout(20_000)
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))

    page.goto(f"{server.base}/inbox/items/{item['code']}")
    assert "/inbox/login" in page.url
    page.fill("input[name=username]", "trinh-duyet")
    page.fill("input[name=password]", PASSWORD)
    page.click("button:has-text('Đăng nhập')")
    page.wait_for_url(f"**/inbox/items/{item['code']}")

    shown = page.inner_text("#citizen-text")
    assert shown.startswith('<script>window.__xss = 1; alert("xss")</script><img src=x')
    assert page.evaluate("document.querySelectorAll('#citizen-text *').length") == 0
    assert page.evaluate("window.__xss") is None

    page.select_option("#form-route select[name=department]", target)
    page.fill("#form-route input[name=reason]", "Nội dung thuộc lĩnh vực khác")
    page.click("#form-route button")
    page.wait_for_selector(f".flash-ok:has-text('Đã chuyển đến {target_name}')")
    assert page.inner_text("#department") == target_name

    page.select_option("#form-status select[name=status]", "in_progress")
    page.click("#form-status button")
    page.wait_for_selector("#status:has-text('Đang xử lý')")

    page.fill("#form-reply textarea[name=text]", REPLY)
    page.click("#form-reply button")
    page.wait_for_selector(".flash-ok:has-text('Đã gửi trả lời cho người dân.')")
    assert page.inner_text("#status") == "Đã trả lời"
    history = page.inner_text("#history")
    for expected in ("Chuyển lại cơ quan", "Đang xử lý", "Trả lời người dân", REPLY,
                     "user:trinh-duyet", "Nội dung thuộc lĩnh vực khác"):
        assert expected in history, expected

    page.goto(f"{server.base}/inbox?q={item['code']}")
    assert page.locator(".items tbody tr").count() == 1
    assert "<script>window.__xss" in page.inner_text(".items td.text")

    page.click("button:has-text('Đăng xuất')")
    page.wait_for_url("**/inbox/login")
    page.goto(f"{server.base}/inbox")
    assert "/inbox/login" in page.url
    assert dialogs == [] and page.evaluate("window.__xss") is None
    context.close()
