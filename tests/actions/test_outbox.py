"""The API goes down mid-conversation: the citizen still gets a tracking code, the submission
waits in the action server's outbox (SQLite), and reaches the API exactly once when it is back.

Real processes only: the API (SQLite, no search index) is stopped and started again on the same
port while the real action server keeps running; then the action server itself is restarted,
and what it saved is delivered without anyone chatting.
"""

from __future__ import annotations

import re
import sqlite3
import time
import uuid

import pytest

from tests.actions.servers import Conversation, action_server, api_server, env_for_actions, http
from tests.feedback_api.server import SmtpSink, cli, service_env

CODE = re.compile(r"^(PA|KN|CH)-[23456789ABCDEFGHJKLMNPQRSTUVWXYZ]{8}$")


@pytest.fixture(scope="module")
def stack(tmp_path_factory, model_dir):
    sink = SmtpSink().start()
    root = tmp_path_factory.mktemp("outbox-stack")
    env = service_env(f"sqlite:///{root / 'caunoi.db'}", model_dir, sink.port)
    api = api_server(env)
    api.db_path = root / "caunoi.db"
    token = cli("token", "create", "--role", "service", "--name", "bot-outbox-test", env=env)
    actions = action_server(env_for_actions(api, token, root / "outbox.db",
                                            CAUNOI_ACTIONS_OUTBOX_MAX_DELAY="2",
                                            CAUNOI_API_TIMEOUT="3"))
    actions.outbox = root / "outbox.db"
    yield api, actions
    actions.stop()
    api.stop()
    sink.stop()


def outbox_row(actions, code: str) -> dict:
    with sqlite3.connect(actions.outbox) as db:
        db.row_factory = sqlite3.Row
        row = db.execute("SELECT * FROM submission WHERE tracking_code = ?", (code,)).fetchone()
    assert row is not None, code
    return dict(row)


def rows_in_api(api, code: str) -> int:
    with sqlite3.connect(api.db_path) as db:
        return db.execute("SELECT count(*) FROM feedback_item WHERE tracking_code = ?",
                          (code,)).fetchone()[0]


def confirmed_complaint(actions, domain, text: str) -> Conversation:
    talk = Conversation(actions, domain, sender=f"outbox-{uuid.uuid4().hex[:8]}")
    talk.complaint(text, location="xã Bản Hồ", phone="0987654321")
    assert talk.slots["requested_slot"] is None
    return talk


def test_api_down_then_back_delivers_exactly_once(stack, domain):
    api, actions = stack
    text = "Cầu treo qua suối ở bản Sín Chải bị gãy một nhịp, học sinh phải lội suối đi học"
    talk = confirmed_complaint(actions, domain, text)
    key = talk.slots["submission_key"]
    filled = dict(talk.slots)

    api.stop()
    responses = talk.run("action_submit_feedback")
    assert [r.get("response") for r in responses] == ["utter_api_down_saved"]
    code = responses[0]["tracking_code"]
    assert CODE.match(code) and code.startswith("PA-")
    row = outbox_row(actions, code)
    assert row["status"] == "pending" and row["idempotency_key"] == key
    assert talk.slots["tracking_code"] == code

    # asking about it while the API is down: it is saved and waiting
    asker = Conversation(actions, domain, sender="outbox-asker").say(code, "track_status")
    [queued] = asker.run("action_check_status")
    assert queued["response"] == "utter_status_queued" and queued["tracking_code"] == code

    # the citizen taps "Gửi" again while the API is still down: same code, nothing new queued
    talk.set(**{k: filled[k] for k in ("feedback_kind", "feedback_text", "location",
                                       "phone_consent", "phone", "submission_key")})
    again = talk.run("action_submit_feedback")
    assert again[0]["tracking_code"] == code
    with sqlite3.connect(actions.outbox) as db:
        assert db.execute("SELECT count(*) FROM submission").fetchone()[0] == 1

    api.start()  # same port, same database
    # retries back off to at most 2 s here; the background thread must keep that schedule even
    # though the outbox was empty (and the thread asleep for a minute) before this submission
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and outbox_row(actions, code)["status"] != "delivered":
        time.sleep(0.3)
    row = outbox_row(actions, code)
    assert row["status"] == "delivered", row
    assert row["payload"] == "{}"  # the phone number does not stay in the outbox
    status, body = http("GET", f"{api.base}/api/v1/status/{code}")
    assert status == 200 and body["kind"] == "complaint"
    assert rows_in_api(api, code) == 1

    # a late resend of the same summary: still the same single item
    talk.set(**{k: filled[k] for k in ("feedback_kind", "feedback_text", "location",
                                       "phone_consent", "phone", "submission_key")})
    [done] = talk.run("action_submit_feedback")
    assert done["response"] == "utter_feedback_submitted" and done["tracking_code"] == code
    assert rows_in_api(api, code) == 1
    with sqlite3.connect(api.db_path) as db:
        assert db.execute("SELECT count(*) FROM feedback_item WHERE idempotency_key = ?",
                          (key,)).fetchone()[0] == 1
        phone = db.execute("SELECT contact_phone FROM feedback_item WHERE tracking_code = ?",
                           (code,)).fetchone()[0]
    assert phone == "0987654321"


def test_search_down_is_said_plainly_and_forwarding_still_works(stack, domain):
    api, actions = stack  # this API runs without a search index: /api/v1/search answers 503
    talk = Conversation(actions, domain, sender="outbox-search")
    talk.say("đăng ký thường trú cần giấy tờ gì", "ask_policy")
    responses = talk.run("action_answer_question")
    assert [r.get("response") for r in responses if r.get("response")] == [
        "utter_search_unavailable", "utter_offer_forward"]
    assert [r["custom"] for r in responses if r.get("custom")] == [
        {"type": "answer", "citations": [], "confident": False}]
    assert talk.slots["answer_confident"] is False

    talk.say("có", "affirm")
    [forwarded] = talk.run("action_forward_question")
    assert forwarded["response"] == "utter_question_forwarded"
    assert rows_in_api(api, forwarded["tracking_code"]) == 1


def test_a_pending_submission_is_delivered_after_a_restart_without_any_chat(stack, domain):
    """The outbox starts with the action server (`python -m actions`), not at the first chat:
    a code saved while the API was down reaches it after a restart even if no one writes."""
    api, actions = stack
    text = "Đèn đường trục chính thôn Nậm Cang hỏng cả tháng nay, buổi tối trẻ em đi lại nguy hiểm"
    talk = confirmed_complaint(actions, domain, text)
    api.stop()
    try:
        [saved] = talk.run("action_submit_feedback")
        assert saved["response"] == "utter_api_down_saved"
        code = saved["tracking_code"]
        assert outbox_row(actions, code)["status"] == "pending"
        actions.stop()
    finally:
        api.start()
    assert rows_in_api(api, code) == 0  # nothing else could have sent it

    actions.start()  # a new process, and no one talks to it (the health check is no action)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and outbox_row(actions, code)["status"] != "delivered":
        time.sleep(0.3)
    assert outbox_row(actions, code)["status"] == "delivered", actions.output()[-3000:]
    assert rows_in_api(api, code) == 1


def test_over_the_daily_cap_the_citizen_keeps_a_code_and_is_told_why(tmp_path_factory, model_dir,
                                                                      domain):
    """The API files at most CAUNOI_SUBMISSIONS_PER_DAY items per sender a day (429 beyond): the
    citizen is told it waits because of that, not that the system is down, and it waits in the
    outbox rather than being lost or filed at once."""
    sink = SmtpSink().start()
    root = tmp_path_factory.mktemp("capped-stack")
    env = service_env(f"sqlite:///{root / 'caunoi.db'}", model_dir, sink.port,
                      CAUNOI_SUBMISSIONS_PER_DAY="1")
    api = api_server(env)
    api.db_path = root / "caunoi.db"
    token = cli("token", "create", "--role", "service", "--name", "bot-capped-test", env=env)
    actions = action_server(env_for_actions(api, token, root / "outbox.db",
                                            CAUNOI_ACTIONS_OUTBOX_MAX_DELAY="2"))
    actions.outbox = root / "outbox.db"
    try:
        sender = f"capped-{uuid.uuid4().hex[:8]}"
        first = Conversation(actions, domain, sender=sender)
        first.complaint("Mương thủy lợi thôn Cốc Ly bị sạt, nước không vào ruộng được",
                        location="xã Cốc Ly")
        responses = first.run("action_submit_feedback")
        assert responses[0]["response"] == "utter_feedback_submitted"

        second = Conversation(actions, domain, sender=sender)
        second.complaint("Đường vào bản Phìn Ngan lầy lội, xe máy không đi được",
                         location="xã Phìn Ngan")
        [deferred] = second.run("action_submit_feedback")
        assert deferred["response"] == "utter_submission_deferred"
        code = deferred["tracking_code"]
        row = outbox_row(actions, code)
        assert row["status"] == "pending" and "HTTP 429" in row["last_error"]
        assert rows_in_api(api, code) == 0
    finally:
        actions.stop()
        api.stop()
        sink.stop()
