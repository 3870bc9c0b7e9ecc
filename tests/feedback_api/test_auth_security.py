"""Officials' sessions and credentials against a real server: forged cookies, server-side
sessions (logout, idle time, deactivation, password change), the forced first-login password
change, login throttling with its audit rows, and the ``user set-password`` and ``token revoke``
commands. Each module gets its own empty database, so the bootstrap admin is user number one.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from datetime import timedelta

import pytest
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import delete, select, update

from tests.conftest import REPO
from tests.feedback_api.conftest import fresh_pg_database
from tests.feedback_api.server import Api, cli, service_env
from tests.feedback_api.test_inbox import PASSWORD, Browser, logged_in

FIRST_PASSWORD = re.compile(r"admin / (\S+)")


def run(*args: str, env: dict, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "feedback_api", *args], cwd=REPO, env=env,
                          input=stdin, capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def fresh(db_url, tmp_path_factory):
    """An empty database of the module's backend and its own data directory."""
    data = tmp_path_factory.mktemp("data")
    if db_url.startswith("sqlite"):
        yield f"sqlite:///{data / 'caunoi.db'}", data
        return
    with fresh_pg_database("caunoi_auth") as name:
        yield db_url.rsplit("/", 1)[0] + "/" + name, data


@pytest.fixture(scope="module")
def server(fresh, model_dir, smtp):
    from feedback_api.db import Database

    url, data = fresh
    # No CAUNOI_SECRET_KEY: the installation makes its own, as `make run` does.
    env = service_env(url, model_dir, smtp.port, CAUNOI_DATA_DIR=str(data))
    env.pop("CAUNOI_SECRET_KEY", None)
    boot = subprocess.run([sys.executable, "-c", "from feedback_api.__main__ import "
                           "_bootstrap_admin; _bootstrap_admin()"], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120)
    assert boot.returncode == 0, boot.stderr
    for username, role in (("can-bo-a", "triage"), ("can-bo-b", "triage"), ("khoa-thu", "admin"),
                           ("quan-tri", "admin")):
        cli("user", "create", "--username", username, "--role", role, "--password", PASSWORD,
            env=env)
    api = Api(env)
    api.db, api.data = Database(url), data
    api.first_password = FIRST_PASSWORD.search(boot.stdout).group(1)
    yield api
    api.stop()
    api.db.dispose()


@pytest.fixture(autouse=True)
def no_failures_left(server):
    """Each test starts without recorded login failures (they all come from 127.0.0.1)."""
    from feedback_api.auth import orm

    if hasattr(orm, "LoginAttempt"):  # (absent before throttling: the tests then fail alone)
        with server.db.session() as s:
            s.execute(delete(orm.LoginAttempt))


def cookie_of(browser: Browser) -> str:
    return next(c.value for c in browser.jar if c.name == "caunoi_inbox")


def with_cookie(api: Api, value: str) -> Browser:
    """A browser that presents exactly this cookie (a replayed or forged one)."""
    browser = Browser(api.base)
    browser.open = _presenting(browser.open, value)
    return browser


def _presenting(open_, value):
    def open_with(method, path, data=None, headers=None):
        return open_(method, path, data, {**(headers or {}), "Cookie": f"caunoi_inbox={value}"})
    return open_with


def user_id(api: Api, username: str) -> int:
    from feedback_api.auth.orm import User

    with api.db.session() as s:
        return s.scalar(select(User.id).where(User.username == username))


def earlier(api: Api, model, *, seconds: int) -> None:
    """Move every failure back in time (instead of sleeping through a lock)."""
    with api.db.session() as s:
        for row in s.scalars(select(model)):
            row.at -= timedelta(seconds=seconds)


def audit_rows(api: Api, action: str, target: str | None = None) -> list:
    from feedback_api.auth.orm import AuditEntry

    query = select(AuditEntry).where(AuditEntry.action == action)
    if target is not None:
        query = query.where(AuditEntry.target == target)
    with api.db.session() as s:
        return list(s.scalars(query.order_by(AuditEntry.id)))


# --- defect 1: a cookie is not a credential on its own ---------------------------------------

@pytest.mark.parametrize("key", ["dev-only-secret-change-me", "derived"])
def test_forged_session_cookie_opens_nothing(server, key):
    secret = key
    if key == "derived":  # the real key: the signature is right, yet no session stands behind it
        from feedback_api.keys import derive

        secret = derive((server.data / "secret.key").read_text().strip(), "inbox-session")
    forged = URLSafeTimedSerializer(secret, salt="caunoi-inbox-session").dumps(
        {"csrf": "x", "uid": user_id(server, "quan-tri"), "at": time.time(), "fl": []})
    browser = with_cookie(server, forged)
    page = browser.get("/inbox/admin/users")
    assert page.status == 303 and page.location.startswith("/inbox/login"), page.status
    page = browser.get("/api/v1/personal-data?channel=web&sender_id=x")
    assert page.status == 401, page.text


# --- defect 5: sessions end on the server ------------------------------------------------------

def test_logout_ends_the_session_on_the_server(server):
    browser = logged_in(server, "can-bo-a")
    before = cookie_of(browser)
    assert with_cookie(server, before).get("/inbox").status == 200
    assert browser.post("/inbox/logout", {}).location == "/inbox/login"
    replay = with_cookie(server, before)
    assert replay.get("/inbox").status == 303
    assert replay.get("/api/v1/feedback?limit=1").status == 401
    assert audit_rows(server, "auth.logout", "can-bo-a")


def test_idle_and_old_sessions_end(server):
    from feedback_api.auth.orm import LoginSession
    from feedback_api.db import utcnow

    uid = user_id(server, "can-bo-b")
    for column, age in (("last_seen_at", timedelta(minutes=31)),
                        ("created_at", timedelta(hours=13))):
        browser = logged_in(server, "can-bo-b")
        with server.db.session() as s:
            s.execute(update(LoginSession).where(LoginSession.user_id == uid,
                                                 LoginSession.ended_at.is_(None))
                      .values({column: utcnow() - age}))
        assert browser.get("/inbox").status == 303, column
    with server.db.session() as s:
        reasons = set(s.scalars(select(LoginSession.ended_reason)
                                .where(LoginSession.user_id == uid)))
    assert {"idle", "expired"} <= reasons


def test_deactivation_and_admin_reset_end_sessions(server):
    from feedback_api.auth.orm import LoginSession

    cli("user", "create", "--username", "tam-thoi", "--role", "triage", "--password", PASSWORD,
        env=server.env)
    victim, other = logged_in(server, "tam-thoi"), logged_in(server, "can-bo-b")
    admin = logged_in(server, "quan-tri")
    admin.get("/inbox/admin/users")
    page = admin.post(f"/inbox/admin/users/{user_id(server, 'can-bo-b')}/password",
                      {"password": "dat-lai-mat-khau-9"})
    assert page.status == 303 and other.get("/inbox").status == 303
    assert Browser(server.base).login("can-bo-b", "dat-lai-mat-khau-9").location == \
        "/inbox/password"  # an admin-set password must be changed by its owner
    admin.get("/inbox/admin/users")
    admin.post(f"/inbox/admin/users/{user_id(server, 'tam-thoi')}/deactivate", {})
    assert victim.get("/inbox").status == 303
    with server.db.session() as s:
        rows = list(s.scalars(select(LoginSession).where(
            LoginSession.user_id == user_id(server, "tam-thoi"))))
    assert rows and all(r.ended_reason == "deactivated" for r in rows)
    assert run("user", "set-password", "can-bo-b", env=server.env,
               stdin=PASSWORD + "\n").returncode == 0


def test_changing_the_own_password_ends_other_sessions(server):
    me, elsewhere = logged_in(server, "can-bo-a"), logged_in(server, "can-bo-a")
    old = cookie_of(me)
    me.get("/inbox/password")
    fields = {"current": PASSWORD, "new": "mat-khau-moi-1234", "again": "mat-khau-moi-1234"}
    for wrong in ({"current": "sai-mat-khau-1"}, {"again": "khac-han-nhau-1"}, {"new": "ngan",
                                                                                "again": "ngan"}):
        page = me.post("/inbox/password", {**fields, **wrong})
        assert page.status == 400 and 'class="flash flash-error"' in page.text, wrong
    assert me.post("/inbox/password", fields).status == 303
    assert me.get("/inbox").status == 200  # the browser that changed it stays in, on a new id
    assert elsewhere.get("/inbox").status == 303
    assert with_cookie(server, old).get("/inbox").status == 303
    assert Browser(server.base).login("can-bo-a").status == 401
    assert audit_rows(server, "auth.password_change", "can-bo-a")
    me.get("/inbox/password")
    me.post("/inbox/password", {"current": "mat-khau-moi-1234", "new": PASSWORD,
                                "again": PASSWORD})


def test_first_login_forces_a_new_password_and_forgets_the_file(server):
    note = server.data / "first-login.txt"
    assert note.is_file() and note.stat().st_mode & 0o777 == 0o600
    assert server.first_password in note.read_text()
    browser = Browser(server.base)
    page = browser.login("admin", server.first_password)
    assert page.status == 303 and page.location == "/inbox/password"
    for path in ("/inbox", "/inbox/admin/users", "/inbox/dashboard"):
        page = browser.get(path)
        assert page.status == 303 and page.location == "/inbox/password", path
    page = browser.get("/api/v1/feedback?limit=1")
    assert page.status == 403 and "đổi mật khẩu" in json.loads(page.text)["detail"]
    assert browser.get("/inbox/password").status == 200
    page = browser.post("/inbox/password", {"current": server.first_password,
                                            "new": "mat-khau-quan-tri-2", "again":
                                            "mat-khau-quan-tri-2"})
    assert page.status == 303
    assert not note.exists()
    assert browser.get("/inbox/admin/users").status == 200
    assert browser.get("/api/v1/feedback?limit=1").status == 200


# --- defect 4: throttling and audit ------------------------------------------------------------

def test_thirty_wrong_passwords_lock_the_account_without_verifying(server):
    statuses = [Browser(server.base).login("khoa-thu", f"doan-sai-{i:04d}").status
                for i in range(30)]
    assert statuses[:5] == [401] * 5 and set(statuses[5:]) == {429}
    from feedback_api.auth.orm import AuditEntry, LoginAttempt

    page = Browser(server.base).login("khoa-thu")  # the right password, while locked
    assert page.status == 429 and "thử lại sau" in page.text
    assert 1 <= int(page.headers["retry-after"]) <= 30
    failed = audit_rows(server, "auth.login_failed", "khoa-thu")
    assert len(failed) == 5 and all(r.details["ip"] == "127.0.0.1" for r in failed)
    assert audit_rows(server, "auth.locked", "khoa-thu")
    with server.db.session() as s:
        written = json.dumps([r.details for r in s.scalars(select(AuditEntry))])
    assert "doan-sai" not in written and PASSWORD not in written
    earlier(server, LoginAttempt, seconds=40)  # the 30 s lock is over, the failures are not
    assert Browser(server.base).login("khoa-thu", "lai-sai-nua-1").status == 401
    page = Browser(server.base).login("khoa-thu")
    assert page.status == 429 and 30 < int(page.headers["retry-after"]) <= 60  # doubled
    earlier(server, LoginAttempt, seconds=16 * 60)  # out of the 15-minute window
    assert Browser(server.base).login("khoa-thu").status == 303
    assert audit_rows(server, "auth.login", "khoa-thu")
    for _ in range(4):  # the success cleared the username's failures
        Browser(server.base).login("khoa-thu", "sai-sau-khi-vao")
    assert Browser(server.base).login("khoa-thu").status == 303


def test_many_usernames_from_one_address_are_throttled(server):
    statuses = [Browser(server.base).login(f"khong-co-{i}", "sai-mat-khau").status
                for i in range(21)]
    assert statuses[:20] == [401] * 20 and statuses[20] == 429
    assert Browser(server.base).login("can-bo-b").status == 429
    assert audit_rows(server, "auth.locked", "ip:127.0.0.1")


def test_password_verifications_are_bounded_per_process():
    from feedback_api.auth.throttle import VerificationGate

    gate = VerificationGate(2, wait=0.05)
    with gate.slot() as first, gate.slot() as second:
        assert first and second
        with gate.slot() as third:
            assert not third
    with gate.slot() as again:
        assert again


# --- the commands ------------------------------------------------------------------------------

def test_set_password_command(server):
    browser = logged_in(server, "can-bo-b")
    assert run("user", "set-password", "can-bo-b", env=server.env,
               stdin="ngan\n").returncode == 2
    done = run("user", "set-password", "khong-co-ai", env=server.env, stdin=PASSWORD + "1\n")
    assert done.returncode == 2 and "khong-co-ai" in done.stderr
    done = run("user", "set-password", "can-bo-b", env=server.env, stdin="doi-tu-dong-lenh-1\n")
    assert done.returncode == 0, done.stderr
    assert browser.get("/inbox").status == 303
    assert Browser(server.base).login("can-bo-b").status == 401
    assert Browser(server.base).login("can-bo-b", "doi-tu-dong-lenh-1").status == 303
    assert run("user", "set-password", "can-bo-b", env=server.env,
               stdin=PASSWORD + "\n").returncode == 0


def test_token_revoke_command(server):
    token = cli("token", "create", "--role", "admin", "--name", "se-thu-hoi", env=server.env)
    other = cli("token", "create", "--role", "admin", "--name", "giu-lai", env=server.env)
    done = run("token", "revoke", "se-thu-hoi", env=server.env)
    assert done.returncode == 0, done.stderr
    assert server.request("GET", "/api/v1/feedback?limit=1", token=token)[0] == 401
    assert server.request("GET", "/api/v1/feedback?limit=1", token=other)[0] == 200
    assert audit_rows(server, "token.revoke", "se-thu-hoi")
    again = run("token", "revoke", "se-thu-hoi", env=server.env)
    assert again.returncode == 2 and "Không có mã truy cập" in again.stderr


def test_revoking_drops_the_token_from_this_process_cache(database):
    from feedback_api.auth.service import create_token, principal_for_token, revoke_tokens

    with database.session() as s:
        token = create_token(s, name="bo-nho-dem", role="service")
    with database.session() as s:
        assert principal_for_token(s, token=token) is not None  # now cached for 30 s
        assert revoke_tokens(s, name="bo-nho-dem", actor="test") == 1
    with database.session() as s:
        assert principal_for_token(s, token=token) is None
