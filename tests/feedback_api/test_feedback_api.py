"""The feedback service end to end: a real server on loopback, on SQLite and on PostgreSQL,
with a real SMTP server receiving the liaisons' email."""

from __future__ import annotations

import re
import threading
import time
import uuid

import pytest
from sqlalchemy import func, select

from feedback_api.departments.codes import INSPECTORATE
from tests.feedback_api.server import Api, api_with_tokens, cli, service_env

CODE = re.compile(r"^[A-Z]{2}-[0-9A-Z]{6,10}$")


@pytest.fixture(scope="module")
def api(db_url, database, model_dir, smtp):
    env = service_env(db_url, model_dir, smtp.port)
    server = api_with_tokens(env, "test", "service", "admin", "triage")
    yield server
    server.stop()


def routed(api, code: str, timeout: float = 90.0) -> dict:
    """Public status once the worker has routed the item (the router may still be warming up)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status, body = api.request("GET", f"/api/v1/status/{code}")
        assert status == 200, body
        if body["status"] != "new":
            return body
        time.sleep(0.2)
    raise AssertionError(f"{code} not routed in {timeout} s")


def _key() -> str:
    return f"test-{uuid.uuid4().hex}"


def submit(api, token_role="service", **fields):
    body = {
        "kind": "complaint",
        "channel": "web",
        "sender_id": "web-user-1",
        "idempotency_key": _key(),
        **fields,
    }
    return api.request("POST", "/api/v1/feedback", body, token=api.tokens.get(token_role))


def test_submission_is_stored_once_per_idempotency_key(api, database):
    from feedback_api.feedback.orm import FeedbackItem

    key = _key()
    text = "Đường vào bản Tả Van bị sạt lở từ tuần trước, xe máy không đi được."
    status, first = submit(api, text=text, idempotency_key=key, location="xã tả van,  sa pa")
    assert status == 201, first
    assert CODE.match(first["tracking_code"])
    assert first["due_at"] and first["status"] in ("new", "routed")
    status, again = submit(api, text=text, idempotency_key=key)
    assert status == 200 and again["tracking_code"] == first["tracking_code"]
    with database.session() as s:
        assert s.scalar(select(func.count()).where(FeedbackItem.idempotency_key == key)) == 1
        item = s.scalar(select(FeedbackItem).where(FeedbackItem.idempotency_key == key))
        assert item.location == "xã Tả Van, Sa Pa"
        assert item.location_key == "ta van sa pa"


def test_concurrent_resends_never_duplicate(api, database):
    from feedback_api.feedback.orm import FeedbackItem

    key, results = _key(), []
    text = "Đề nghị lắp thêm đèn chiếu sáng đoạn đường qua chợ Bắc Hà."

    def send():
        results.append(submit(api, kind="proposal", text=text, idempotency_key=key))

    threads = [threading.Thread(target=send) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(s for s, _ in results).count(201) == 1, results
    assert {b["tracking_code"] for _, b in results} == {results[0][1]["tracking_code"]}
    with database.session() as s:
        assert s.scalar(select(func.count()).where(FeedbackItem.idempotency_key == key)) == 1


@pytest.fixture
def api_without_worker(tmp_path, model_dir, smtp):
    """The API on a fresh SQLite file and no worker: nothing routes, nothing warms the router.
    Yields the server, a service token and the database file."""
    db = tmp_path / "caunoi.db"
    env = service_env(f"sqlite:///{db}", model_dir, smtp.port, CAUNOI_RUN_WORKER="0")
    server = Api(env)
    try:
        token = cli("token", "create", "--role", "service", "--name", "no-worker", env=env)
        yield server, token, db
    finally:
        server.stop()


def test_a_waiting_submission_leaves_sqlite_writable(api_without_worker):
    """?wait=N waits for the worker to route the item; on SQLite the waiting request used to
    hold the only write lock the whole time, so the worker could not route until the wait ran
    out (every chat confirmation took the whole wait, then 'pending'). No worker here, so the
    request waits its full 6 s; meanwhile another writer must get the lock at once."""
    import sqlite3

    server, token, db = api_without_worker
    result, key = {}, _key()
    waiting = threading.Thread(target=lambda: result.update(answer=server.request(
        "POST", "/api/v1/feedback?wait=6", {
            "kind": "complaint", "channel": "web", "idempotency_key": key,
            "text": "Trường mầm non ở xã thiếu giáo viên"}, token=token)))
    waiting.start()

    def stored() -> bool:  # committed: the request is past its write, in its wait loop
        reader = sqlite3.connect(db, timeout=2)
        try:
            return reader.execute("SELECT 1 FROM feedback_item WHERE idempotency_key = ?",
                                  (key,)).fetchone() is not None
        finally:
            reader.close()

    assert _eventually(stored, timeout=30)
    assert waiting.is_alive()
    writer = sqlite3.connect(db, timeout=2, isolation_level=None)
    try:
        writer.execute("BEGIN IMMEDIATE")  # 'database is locked' after 2 s if held
        writer.execute("ROLLBACK")
    finally:
        writer.close()
    waiting.join(30)
    status, body = result["answer"]
    assert status == 201 and body["routing"] == "pending", body


def test_same_key_with_other_text_is_a_conflict(api):
    key = _key()
    assert submit(api, text="Nội dung thứ nhất về chợ", idempotency_key=key)[0] == 201
    status, body = submit(api, text="Một nội dung khác hẳn", idempotency_key=key)
    assert status == 409 and "idempotency_key" in body["detail"]


def test_routed_to_department_and_liaison_notified_by_email(api, smtp):
    status, body = api.request(
        "POST",
        "/api/v1/feedback?wait=10",
        {
            "kind": "complaint",
            "channel": "zalo",
            "sender_id": "zalo-123",
            "text": "Tôi nộp hồ sơ đăng ký thường trú cho con ở công an xã đã 2 tháng "
            "chưa được giải quyết",
            "idempotency_key": _key(),
        },
        token=api.tokens["service"],
    )
    assert status == 201, body
    code = body["tracking_code"]
    assert routed(api, code)["department"] == "cong-an"
    mails = smtp.wait_for(
        lambda rcpts, m: "cong-an@laocai.example" in rcpts and code in m["Subject"]
    )
    assert len(mails) == 1
    text = mails[0].get_body(preferencelist=("plain",)).get_content()
    assert "thường trú" in text and f"/inbox/items/{code}" in text
    assert "zalo-123" not in text  # channel user ids never reach the liaison


def test_formal_complaint_goes_to_inspectorate_with_procedure(api):
    status, body = submit(
        api, text="Tôi muốn tố cáo cán bộ địa chính xã nhũng nhiễu, đòi tiền khi làm sổ đỏ."
    )
    assert status == 201
    assert body["formal_complaint"] is True and body["department"] == INSPECTORATE
    assert body["routing"] == "done" and "Luật Tố cáo" in body["formal_procedure"]["text"]


def test_contact_needs_consent_and_stays_private(api):
    status, body = submit(
        api,
        text="Trạm y tế xã đóng cửa giờ hành chính",
        contact={"name": "Lò Văn A", "phone": "0912345678", "consent": False},
    )
    assert status == 422 and "đồng ý" in body["detail"]
    status, body = submit(
        api,
        text="Trạm y tế xã đóng cửa giờ hành chính",
        contact={"name": "Lò Văn A", "phone": "0912345678", "consent": True},
    )
    assert status == 201
    code = body["tracking_code"]
    status, public = api.request("GET", f"/api/v1/status/{code}")
    assert status == 200 and public["tracking_code"] == code
    flat = str(public)
    assert "0912345678" not in flat and "Lò Văn A" not in flat and "web-user-1" not in flat
    status, full = api.request("GET", f"/api/v1/feedback/{code}", token=api.tokens["triage"])
    assert status == 200 and full["contact"]["phone"] == "0912345678"
    assert full["events"][0]["action"] == "created"


def test_lifecycle_reply_and_audit_trail(api, database):
    from feedback_api.notify.orm import CitizenMessage

    _, body = api.request(
        "POST",
        "/api/v1/feedback?wait=10",
        {
            "kind": "proposal",
            "channel": "web",
            "sender_id": "web-lifecycle",
            "text": "Đề nghị tăng số buổi tiêm chủng cho trẻ em ở trạm y tế xã Bản Phiệt",
            "idempotency_key": _key(),
        },
        token=api.tokens["service"],
    )
    code, admin = body["tracking_code"], api.tokens["admin"]
    assert routed(api, code)["status"] == "routed"
    status, err = api.request(
        "PATCH", f"/api/v1/feedback/{code}", {"status": "closed"}, token=admin
    )
    assert status == 409 and "Không thể chuyển" in err["detail"]
    status, item = api.request(
        "PATCH",
        f"/api/v1/feedback/{code}",
        {"status": "in_progress", "reason": "Đang xác minh"},
        token=admin,
    )
    assert status == 200 and item["status"] == "in_progress"
    reply = "Sở Y tế đã chỉ đạo trạm y tế xã tiêm chủng 2 buổi mỗi tháng từ tháng sau."
    status, item = api.request(
        "POST", f"/api/v1/feedback/{code}/reply", {"text": reply}, token=admin
    )
    assert status == 200 and item["status"] == "answered" and item["public_reply"] == reply
    status, item = api.request(
        "POST", f"/api/v1/feedback/{code}/notes", {"text": "<b>nội bộ</b>"}, token=admin
    )
    actions = [e["action"] for e in item["events"]]
    assert actions[:2] == ["created", "status"] and "reply" in actions and actions[-1] == "note"
    assert all(e["actor"] for e in item["events"])
    _, public = api.request("GET", f"/api/v1/status/{code}")
    assert public["public_reply"] == reply and "nội bộ" not in str(public)
    assert _eventually(lambda: _count_messages(database, code) == 1)
    with database.session() as s:
        message = s.scalar(select(CitizenMessage).where(CitizenMessage.tracking_code == code))
        assert message.sender_id == "web-lifecycle" and reply in message.text


def _count_messages(database, code):
    from feedback_api.notify.orm import CitizenMessage

    with database.session() as s:
        return s.scalar(select(func.count()).where(CitizenMessage.tracking_code == code))


def _eventually(check, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.2)
    return False


def test_reroute_notifies_new_liaison(api, smtp):
    _, body = submit(api, text="Xin chào, tôi có ý kiến")
    code = body["tracking_code"]
    routed(api, code)
    status, item = api.request(
        "PATCH",
        f"/api/v1/feedback/{code}",
        {"department": "giao-duc", "reason": "Nội dung về trường học"},
        token=api.tokens["triage"],
    )
    assert status == 200, item
    assert item["department"] == "giao-duc" and item["events"][-1]["action"] == "rerouted"
    assert smtp.wait_for(lambda r, m: "giao-duc@laocai.example" in r and code in m["Subject"])
    status, _ = api.request(
        "PATCH", f"/api/v1/feedback/{code}", {"department": "khong-co"}, token=api.tokens["triage"]
    )
    assert status == 404


def test_merge_and_personal_data_export_erase(api, database):
    from feedback_api.answers.orm import AnswerVote

    sender = f"web-{uuid.uuid4().hex[:8]}"
    _, a = submit(
        api,
        text="Cột điện đổ chắn đường ở thôn 3",
        sender_id=sender,
        contact={"phone": "0987654321", "consent": True},
    )
    _, b = submit(api, text="Cột điện bị đổ ở thôn 3 chưa ai dọn", sender_id=sender)
    # the worker routes in the background; wait for it so that "erased" is the last event
    routed(api, a["tracking_code"])
    admin = api.tokens["admin"]
    status, merged = api.request(
        "POST",
        f"/api/v1/feedback/{b['tracking_code']}/merge",
        {"into": a["tracking_code"]},
        token=admin,
    )
    assert status == 200 and merged["status"] == "merged"
    assert merged["merged_into"] == a["tracking_code"]
    vote = {"question": "Cột điện đổ thì báo ai?", "helpful": False, "channel": "web",
            "sender_id": sender, "idempotency_key": _key(),
            "citations": [{"law_id": "luat-dien-luc", "article_id": "20"}]}
    other = {**vote, "sender_id": f"{sender}-other", "idempotency_key": _key()}
    for body in (vote, other):
        status, _ = api.request("POST", "/api/v1/answers/votes", body, token=api.tokens["service"])
        assert status == 201
    status, export = api.request(
        "GET", f"/api/v1/personal-data?channel=web&sender_id={sender}", token=admin
    )
    assert status == 200 and len(export["data"]["feedback_items"]) == 2
    assert [v["question"] for v in export["data"]["answer_votes"]] == [vote["question"]]
    status, erased = api.request(
        "DELETE", f"/api/v1/personal-data?channel=web&sender_id={sender}", token=admin
    )
    assert status == 200, erased
    assert erased["erased"]["feedback_items"] == 2 and erased["erased"]["answer_votes"] == 1
    _, item = api.request("GET", f"/api/v1/feedback/{a['tracking_code']}", token=admin)
    assert item["sender_id"] is None and item["contact"] is None
    assert item["events"][-1]["action"] == "erased"
    _, export = api.request(
        "GET", f"/api/v1/personal-data?channel=web&sender_id={sender}", token=admin
    )
    assert export["data"]["answer_votes"] == []  # unlinked: the vote counts, is not theirs
    # checked in the table too, not only through the export that did the erasing
    with database.session() as s:
        voters = [v.voter for v in s.query(AnswerVote).filter(
            AnswerVote.idempotency_key.in_([vote["idempotency_key"], other["idempotency_key"]]))
            .order_by(AnswerVote.id)]
    assert voters[0] is None and voters[1] is not None


def test_routing_preview(api):
    status, body = api.request(
        "POST",
        "/api/v1/routing/preview",
        {"text": "Học phí trường THPT năm nay tăng quá cao"},
        token=api.tokens["service"],
    )
    assert status == 200 and body["predicted"] == "giao-duc"
    assert {"department", "confidence", "auto_routed", "alternatives"} <= set(body)
    assert api.request("POST", "/api/v1/routing/preview", {"text": "x"})[0] == 401


def test_first_routing_preview_builds_the_router_without_locking_sqlite(api_without_worker):
    """No worker, so nothing warms the router up: the first preview builds it. It used to do so
    inside the request's own SQLite transaction and wait 30 s for itself, then answer 500. The
    status is the check: how long the build takes depends on the machine (35 s once in CI)."""
    server, token, _ = api_without_worker
    status, body = server.request("POST", "/api/v1/routing/preview",
                                  {"text": "Trường mầm non thiếu giáo viên"}, token=token)
    assert status == 200, body
    assert body["predicted"] == "giao-duc"


@pytest.mark.parametrize(
    ("method", "path", "body", "role", "expected"),
    [
        ("POST", "/api/v1/feedback", {"kind": "complaint"}, "service", 422),
        (
            "POST",
            "/api/v1/feedback",
            {"kind": "rant", "text": "x", "channel": "web", "idempotency_key": "abcdefgh"},
            "service",
            422,
        ),
        (
            "POST",
            "/api/v1/feedback",
            {
                "kind": "complaint",
                "text": "x" * 5001,
                "channel": "web",
                "idempotency_key": "abcdefgh1",
            },
            "service",
            422,
        ),
        (
            "POST",
            "/api/v1/feedback",
            {"kind": "complaint", "text": 12, "channel": "web", "idempotency_key": "abcdefgh2"},
            "service",
            422,
        ),
        (
            "POST",
            "/api/v1/feedback",
            {"kind": "complaint", "text": "ok", "channel": "web", "idempotency_key": "abcdefgh3"},
            None,
            401,
        ),
        (
            "POST",
            "/api/v1/feedback",
            {"kind": "complaint", "text": "ok", "channel": "web", "idempotency_key": "abcdefgh4"},
            "triage",
            403,
        ),
        ("GET", "/api/v1/status/not-a-code", None, None, 404),
        ("GET", "/api/v1/status/PA-ZZZZZZZZ", None, None, 404),
        ("GET", "/api/v1/feedback/PA-ZZZZZZZZ", None, "service", 403),
        ("GET", "/api/v1/feedback?limit=0", None, "admin", 422),
        ("PATCH", "/api/v1/departments/khong-co", {"name": "X"}, "admin", 404),
        # Declared limits hold for what is sent, before trimming: 51 characters with padding
        # are over maxLength 50, and a blank id (U+0085 is blank to Python and Rust, not to
        # ECMAScript) has no visible character.
        ("POST", "/api/v1/feedback", {
            "kind": "proposal", "text": "ok", "channel": "web", "idempotency_key": "abcdefgh5",
            "citations": [{"law_id": "luat-cu-tru", "article_id": "20" + " " * 49}]},
         "service", 422),
        ("POST", "/api/v1/answers/votes", {
            "question": "hỏi", "helpful": True, "channel": "web", "idempotency_key": "abcdefgh6",
            "citations": [{"law_id": "\u0085", "article_id": "20"}]}, "service", 422),
        ("POST", "/api/v1/feedback", {
            "kind": "complaint", "text": " \ufeff\u3000 ", "channel": "web",
            "idempotency_key": "abcdefgh7"}, "service", 422),
        # One value per declared query parameter: a repeated one is refused, not "last wins".
        ("GET", "/api/v1/feedback?limit=5&limit=6", None, "admin", 422),
    ],
)
def test_bad_input_gets_a_clear_4xx(api, method, path, body, role, expected):
    status, payload = api.request(method, path, body, token=api.tokens.get(role) if role else None)
    assert status == expected, payload
    assert isinstance(payload.get("detail"), str) and payload["detail"]


def test_malformed_and_oversized_bodies(api):
    token = api.tokens["service"]
    status, body = api.request(
        "POST", "/api/v1/feedback", raw=b'{"kind": "complaint",', token=token
    )
    assert status == 422 and body["detail"]
    status, body = api.request("POST", "/api/v1/feedback", raw=b"x" * 2_000_000, token=token)
    assert status == 413 and body["detail"]


def test_make_run_defaults_keep_liaison_mail_in_a_local_mailbox(tmp_path, model_dir):
    """`make run` has no mail relay: serve starts a local SMTP sink writing var/mail/*.eml."""
    from email import message_from_bytes, policy

    from tests.feedback_api.conftest import free_port

    env = service_env(f"sqlite:///{tmp_path / 'run.db'}", model_dir, free_port(),
                      CAUNOI_DEV_MAILBOX="1", CAUNOI_MAIL_DIR=str(tmp_path / "mail"))
    server = Api(env)
    try:
        token = cli("token", "create", "--role", "service", "--name", "run", env=env)
        status, body = server.request(
            "POST", "/api/v1/feedback",
            {"kind": "complaint", "channel": "web", "idempotency_key": _key(),
             "text": "Tôi muốn tố cáo cán bộ thuế xã đòi tiền bồi dưỡng"},
            token=token,
        )
        assert status == 201 and body["department"] == INSPECTORATE
        # the new worker process loads its encoder before the first pass: slow on a busy machine
        assert _eventually(lambda: any((tmp_path / "mail").glob("*.eml")), timeout=90)
        mail = next((tmp_path / "mail").glob("*.eml")).read_bytes()
        msg = message_from_bytes(mail, policy=policy.default)
        assert body["tracking_code"] in msg["Subject"] and msg["To"] == "thanh-tra@laocai.example"
    finally:
        server.stop()
