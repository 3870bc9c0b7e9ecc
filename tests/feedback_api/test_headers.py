"""Security headers on every response, no-store on private ones, HSTS and Secure cookies in
production (defect 9). Real servers on loopback: one as ``make run`` starts it, one with
production settings."""

from __future__ import annotations

import urllib.error
import urllib.request

import pytest

from tests.chat.browser import CHROMIUM, chromium
from tests.feedback_api.server import api_with_tokens, service_env

PUBLIC_PATHS = [
    "/chat", "/chat/static/chat.js", "/inbox/login", "/inbox/static/inbox.css", "/healthz",
    "/api/v1/status/PA-NOSUCH12", "/api/v1/departments", "/openapi.json", "/no/such/page",
    "/open311/v2/services.json", "/van-ban/Luat%20Cu%20tru%202020/1",
]


@pytest.fixture(scope="module")
def api(db_url, database, model_dir, smtp):
    server = api_with_tokens(service_env(db_url, model_dir, smtp.port,
                                         CAUNOI_RUN_WORKER="0"), "headers", "admin")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def production(db_url, database, model_dir, smtp, tmp_path_factory):
    env = service_env(db_url, model_dir, smtp.port, CAUNOI_RUN_WORKER="0",
                      CAUNOI_ENV="production", CAUNOI_PUBLIC_URL="https://caunoi.laocai.example",
                      CAUNOI_SECRET_KEY="k" * 20 + "production-test-key-0123456789",
                      CAUNOI_DATA_DIR=str(tmp_path_factory.mktemp("prod-data")))
    server = api_with_tokens(env, "headers-prod", "admin")
    yield server
    server.stop()


def fetch(api, path: str, *, method: str = "GET", headers: dict | None = None,
          data: bytes | None = None):
    """Status and headers (an email.message.Message) of one request; redirects not followed."""

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    opener = urllib.request.build_opener(NoRedirect)
    req = urllib.request.Request(api.base + path, data=data, method=method,
                                 headers=headers or {})
    try:
        with opener.open(req, timeout=60) as resp:
            return resp.status, resp.headers
    except urllib.error.HTTPError as err:
        return err.code, err.headers


def directives(csp: str) -> dict[str, str]:
    parts = (p.strip().split(None, 1) for p in csp.split(";") if p.strip())
    return {p[0]: (p[1] if len(p) > 1 else "") for p in parts}


@pytest.mark.parametrize("path", PUBLIC_PATHS)
def test_every_response_has_the_security_headers(api, path):
    status, headers = fetch(api, path)
    assert status != 500, path  # /van-ban answers 503 here: no search index is loaded
    policy = directives(headers.get("Content-Security-Policy", ""))
    assert policy.get("frame-ancestors") == "'none'", headers
    assert policy.get("object-src") == "'none'"
    # No inline script or style on our own pages (chat.js and the style sheets are files).
    for kind in ("script-src", "style-src"):
        assert "'unsafe-inline'" not in policy.get(kind, policy.get("default-src", ""))
    assert headers.get("X-Content-Type-Options") == "nosniff"
    assert headers.get("Referrer-Policy") in ("same-origin", "strict-origin-when-cross-origin")
    assert headers.get("X-Frame-Options") == "DENY"
    assert "Strict-Transport-Security" not in headers  # not production: http is allowed


def test_the_413_of_the_body_guard_has_them_too(api):
    status, headers = fetch(api, "/api/v1/feedback", method="POST", data=b"x" * 5_000_000)
    assert status == 413
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
def test_api_docs_may_load_their_cdn_assets_but_not_be_framed(api, path):
    status, headers = fetch(api, path)
    assert status == 200
    policy = directives(headers["Content-Security-Policy"])
    assert "https://cdn.jsdelivr.net" in policy["script-src"]
    assert policy["frame-ancestors"] == "'none'"
    assert headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize("path", ["/inbox/login", "/inbox", "/inbox/admin/users"])
def test_inbox_pages_are_not_stored(api, path):
    status, headers = fetch(api, path)
    assert status in (200, 303, 307, 401), (path, status)
    assert headers.get("Cache-Control") == "no-store", path


def test_responses_to_credentials_are_not_stored(api):
    token = api.tokens["admin"]
    for path in ("/api/v1/personal-data?channel=web&sender_id=web-nobody", "/api/v1/feedback",
                 "/api/v1/departments", "/api/v1/answers/votes/summary"):
        status, headers = fetch(api, path, headers={"Authorization": f"Bearer {token}"})
        assert status == 200, path
        assert headers.get("Cache-Control") == "no-store", path
    # Without credentials the personal-data API refuses, and that answer is not stored either.
    status, headers = fetch(api, "/api/v1/personal-data?channel=web&sender_id=web-nobody")
    assert status == 401 and headers.get("Cache-Control") == "no-store"
    # An inbox session cookie marks the response private, whatever the path.
    status, headers = fetch(api, "/api/v1/departments",
                            headers={"Cookie": "caunoi_inbox=anything"})
    assert status == 200 and headers.get("Cache-Control") == "no-store"


def test_production_sends_hsts_and_secure_cookies(production):
    status, headers = fetch(production, "/chat")
    assert status == 200
    hsts = headers.get("Strict-Transport-Security", "")
    assert hsts.startswith("max-age=") and int(hsts.split("=")[1].split(";")[0]) >= 31_536_000
    cookies = headers.get_all("Set-Cookie")
    chat_cookie = next(c for c in cookies if c.startswith("caunoi_chat="))
    assert "Secure" in chat_cookie and "HttpOnly" in chat_cookie
    status, headers = fetch(production, "/api/v1/status/PA-NOSUCH12")
    assert status == 404 and "Strict-Transport-Security" in headers
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's Chromium at /usr/bin/chromium")
def test_pages_run_under_their_policy_without_violations(api):
    """Chromium enforces the CSP: every page loads its script and styles, none is refused."""
    with chromium() as browser:
        page = browser.new_page()
        page.add_init_script("window.__csp = []; document.addEventListener("
                             "'securitypolicyviolation', e => window.__csp.push("
                             "e.violatedDirective + ' ' + e.blockedURI));")
        for path in ("/chat", "/inbox/login", "/van-ban/Luat%20Cu%20tru%202020/20"):
            page.goto(api.base + path)
            if path == "/chat":
                page.wait_for_selector("body[data-ready='1']", timeout=30_000)  # chat.js ran
            rules = page.evaluate("Array.from(document.styleSheets)"
                                  ".reduce((n, s) => n + s.cssRules.length, 0)")
            assert rules > 0, f"{path}: no style sheet applied"
            assert page.evaluate("window.__csp") == [], path
