"""The channel gateway end to end: real API processes (two, sharing one database, on SQLite and
PostgreSQL), fake Zalo and Meta servers that check what we send, and a stand-in Rasa.

What is checked is what a citizen and an operator would see: a signed event is acknowledged at
once and answered once, in order, on the platform it came from; forged ones store nothing;
redeliveries, crashes, Rasa outages, platform failures and an expired token lose nothing and
duplicate nothing.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import text

from feedback_api.db import Database, utcnow
from tests.channels.conftest import gateway_env, scalar, wait_until
from tests.chat.test_replies import file_item, reply
from tests.fakes.platforms import (
    messenger_batch,
    messenger_delivery,
    messenger_echo,
    messenger_headers,
    messenger_postback,
    messenger_read,
    messenger_text,
    zalo_event,
    zalo_headers,
)
from tests.feedback_api.server import Api, api_with_tokens


@pytest.fixture(scope="module")
def stack(db_url, model_dir, platforms, rasa):
    env = gateway_env(db_url, model_dir, platforms, rasa)
    first = api_with_tokens(env, f"gw-{uuid.uuid4().hex[:6]}", "service", "admin")
    second = Api(env)
    second.tokens = first.tokens
    database = Database(db_url)
    yield first, second, database, env
    for api in (first, second):
        api.stop()
    database.dispose()


@pytest.fixture(autouse=True)
def clean_fakes(platforms):
    platforms.zalo.reset()
    platforms.meta.reset()
    yield


def uid() -> str:
    return str(uuid.uuid4().int)[:18]


def post_zalo(api: Api, platforms, user: str, text: str, **kwargs) -> tuple[int, dict, bytes]:
    raw = zalo_event(app_id=platforms.zalo_app_id, user_id=user, text=text, **kwargs)
    headers = zalo_headers(raw, app_id=platforms.zalo_app_id, oa_secret=platforms.zalo_oa_secret)
    status, body = api.request("POST", "/webhooks/zalo", raw=raw, headers=headers)
    return status, body, raw


def post_messenger(api: Api, platforms, events: list[list[dict]]) -> int:
    raw = messenger_batch(events)
    return api.request("POST", "/webhooks/messenger", raw=raw,
                       headers=messenger_headers(raw, platforms.messenger_app_secret))[0]


def events_count(database, user: str) -> int:
    return scalar(database, "SELECT count(*) FROM channel_event WHERE user_id = :u", u=user)


def test_a_zalo_question_is_answered_once_on_zalo(stack, platforms, rasa):
    first, _, database, _ = stack
    user = uid()
    started = time.monotonic()
    status, body, _ = post_zalo(first, platforms, user, "xin chào")
    assert (status, body) == (200, {"status": "ok"})
    assert time.monotonic() - started < 1.0  # acknowledged before Rasa is asked
    wait_until(lambda: platforms.zalo.texts_to(user), what="the reply on Zalo")
    assert platforms.zalo.texts_to(user) == ["Bạn vừa nói: xin chào"]
    [turn] = [r for r in rasa.received if r["sender"] == f"zalo:{user}"]
    assert turn["input_channel"] == "zalo" and turn["metadata"] == {"channel": "zalo"}
    time.sleep(0.5)
    assert len(platforms.zalo.sent_to(user)) == 1


def test_forged_unsigned_and_stale_events_store_and_send_nothing(stack, platforms):
    first, _, database, _ = stack
    user = uid()
    raw = zalo_event(app_id=platforms.zalo_app_id, user_id=user, text="giả mạo")
    forged = zalo_headers(raw, app_id=platforms.zalo_app_id, oa_secret="not-the-secret")
    assert first.request("POST", "/webhooks/zalo", raw=raw, headers=forged)[0] == 401
    assert first.request("POST", "/webhooks/zalo", raw=raw)[0] == 401  # unsigned
    old = str(int((time.time() - 3600) * 1000))
    stale = zalo_event(app_id=platforms.zalo_app_id, user_id=user, text="cũ", timestamp_ms=old)
    headers = zalo_headers(stale, app_id=platforms.zalo_app_id,
                           oa_secret=platforms.zalo_oa_secret, timestamp_ms=old)
    assert first.request("POST", "/webhooks/zalo", raw=stale, headers=headers)[0] == 403
    assert first.request("POST", "/webhooks/zalo", raw=b"{}")[0] == 200  # Zalo's set-up probe
    raw = messenger_batch([[messenger_text(user, "giả mạo")]])
    bad = {"X-Hub-Signature-256": "sha256=" + "0" * 64}
    assert first.request("POST", "/webhooks/messenger", raw=raw, headers=bad)[0] == 403
    assert first.request("POST", "/webhooks/messenger", raw=raw)[0] == 401
    time.sleep(1.0)
    assert events_count(database, user) == 0
    assert not platforms.zalo.sent_to(user) and not platforms.meta.sent_to(user)


def test_messenger_subscription_check(stack, platforms):
    first, *_ = stack
    ok = (f"/webhooks/messenger?hub.mode=subscribe&hub.verify_token={platforms.verify_token}"
          "&hub.challenge=1158201444")
    assert first.request("GET", ok) == (200, 1158201444)
    wrong = ok.replace(platforms.verify_token, "wrong")
    assert first.request("GET", wrong)[0] == 403
    assert first.request("GET", ok.replace("subscribe", "unsubscribe"))[0] == 403


def test_a_redelivered_event_sent_to_two_processes_is_one_turn(stack, platforms, rasa):
    first, second, database, _ = stack
    user = uid()
    raw = zalo_event(app_id=platforms.zalo_app_id, user_id=user, text="gửi lại nhiều lần")
    headers = zalo_headers(raw, app_id=platforms.zalo_app_id, oa_secret=platforms.zalo_oa_secret)
    statuses = []

    def deliver(api):
        statuses.append(api.request("POST", "/webhooks/zalo", raw=raw, headers=headers)[0])

    threads = [threading.Thread(target=deliver, args=(api,))
               for api in (first, second) * 5]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [200] * 10
    wait_until(lambda: platforms.zalo.texts_to(user), what="the reply")
    time.sleep(1.5)
    assert platforms.zalo.texts_to(user) == ["Bạn vừa nói: gửi lại nhiều lần"]
    assert sum(1 for r in rasa.received if r["sender"] == f"zalo:{user}") == 1
    assert events_count(database, user) == 1


def test_a_citizens_messages_are_answered_in_order_across_processes(stack, platforms):
    first, second, _, _ = stack
    user = uid()
    base = int(time.time() * 1000)
    texts = [f"tin số {n}" for n in range(8)]
    for n, said in enumerate(texts):
        api = (first, second)[n % 2]
        assert post_zalo(api, platforms, user, said, timestamp_ms=str(base + n))[0] == 200
    wait_until(lambda: len(platforms.zalo.texts_to(user)) >= len(texts), timeout=30,
               what="eight replies")
    assert platforms.zalo.texts_to(user) == [f"Bạn vừa nói: {t}" for t in texts]


def test_every_event_of_a_messenger_batch_once_echoes_and_receipts_ignored(stack, platforms,
                                                                           rasa):
    first, _, database, _ = stack
    alice, bob = uid(), uid()
    batch = [
        [messenger_text(alice, "chào"), messenger_echo(alice, "tin của trang"),
         messenger_delivery(alice), messenger_read(alice)],
        [messenger_text(bob, "hỏi"), messenger_postback(alice, "Có", "/affirm")],
    ]
    assert post_messenger(first, platforms, batch) == 200
    wait_until(lambda: len(platforms.meta.sent_to(alice)) >= 2
               and platforms.meta.sent_to(bob), what="replies to both")
    assert platforms.meta.texts_to(alice) == ["Bạn vừa nói: chào", "Cảm ơn bạn đã đánh giá!"]
    said = [r["message"] for r in rasa.received if r["sender"] == f"messenger:{alice}"]
    assert said == ["chào", "/affirm"]  # a postback is its payload; the echo is not input
    # "hỏi": an answer and a question with two buttons, as a button template with postbacks
    last = platforms.meta.sent_to(bob)
    wait_until(lambda: len(platforms.meta.sent_to(bob)) >= 2, what="the whole answer")
    last = platforms.meta.sent_to(bob)
    template = last[-1]["message"]["attachment"]["payload"]
    assert [b["payload"] for b in template["buttons"]] == ["/affirm", "/deny"]
    assert all(m["messaging_type"] == "RESPONSE" for m in last)
    assert events_count(database, alice) == 2


def test_zalo_buttons_are_hidden_queries_and_a_tap_reaches_rasa(stack, platforms, rasa):
    first, *_ = stack
    user = uid()
    post_zalo(first, platforms, user, "hỏi")
    wait_until(lambda: len(platforms.zalo.sent_to(user)) >= 2, what="the answer")
    message = platforms.zalo.sent_to(user)[-1]["message"]
    buttons = message["attachment"]["payload"]["buttons"]
    assert [(b["type"], b["payload"]) for b in buttons] == [("oa.query.hide", "/affirm"),
                                                            ("oa.query.hide", "/deny")]
    post_zalo(first, platforms, user, "/affirm")  # what Zalo sends for a hidden-query tap
    wait_until(lambda: "Cảm ơn bạn đã đánh giá!" in platforms.zalo.texts_to(user),
               what="the answer to the tap")


def test_rasa_down_then_the_api_killed_after_the_ack_answers_once(stack, platforms, rasa):
    first, second, database, env = stack
    rasa.stop()
    try:
        user = uid()
        assert post_zalo(first, platforms, user, "trong lúc trợ lý tắt")[0] == 200
        time.sleep(1.0)
        assert not platforms.zalo.sent_to(user)  # waiting, not lost, not dead
        assert scalar(database, "SELECT status FROM channel_event WHERE user_id = :u",
                      u=user) == "pending"
        for api in (first, second):  # nobody is left to answer it
            os.kill(api.proc.pid, signal.SIGKILL)
            api.proc.wait()
    finally:
        rasa.start()
    time.sleep(1.0)
    assert not platforms.zalo.sent_to(user)
    for api in (first, second):  # restarted (the later tests use them too)
        tokens = api.tokens
        api.__dict__.update(Api(env).__dict__, tokens=tokens)
    wait_until(lambda: platforms.zalo.texts_to(user), timeout=60, what="the late answer")
    time.sleep(1.5)
    assert platforms.zalo.texts_to(user) == ["Bạn vừa nói: trong lúc trợ lý tắt"]


def test_failing_sends_are_retried_once_each_then_dead_with_the_reason(stack, platforms):
    first, _, database, _ = stack
    user = uid()
    platforms.zalo.fail_next(2, "http500")
    post_zalo(first, platforms, user, "lần một")
    wait_until(lambda: platforms.zalo.texts_to(user), what="the retried reply")
    assert platforms.zalo.texts_to(user) == ["Bạn vừa nói: lần một"]
    platforms.zalo.fail_next(10, "error:-32")
    post_zalo(first, platforms, user, "lần hai")

    def dead():
        return scalar(database, "SELECT last_error FROM outbox_message WHERE status = 'dead' "
                      "AND dedupe_key LIKE 'turn:zalo:%' AND CAST(payload AS TEXT) LIKE :u",
                      u=f"%{user}%")

    error = wait_until(dead, timeout=30, what="the dead letter")
    assert "-32" in error
    assert platforms.zalo.texts_to(user) == ["Bạn vừa nói: lần một"]


def test_an_expired_zalo_token_is_refreshed_once_across_processes(stack, platforms):
    first, second, database, _ = stack
    before = len(platforms.zalo.refreshes)
    platforms.zalo.expire_token()
    users = [uid() for _ in range(6)]
    threads = [threading.Thread(target=post_zalo, args=((first, second)[n % 2], platforms,
                                                         user, f"token {n}"))
               for n, user in enumerate(users)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wait_until(lambda: all(platforms.zalo.texts_to(u) for u in users), timeout=30,
               what="every reply after the refresh")
    assert len(platforms.zalo.refreshes) - before == 1
    assert platforms.zalo.reused_refresh_tokens == 0
    assert all(len(platforms.zalo.sent_to(u)) == 1 for u in users)
    stored = scalar(database, "SELECT refresh_token FROM channel_state WHERE platform = 'zalo'")
    assert stored == platforms.zalo.refresh_token  # persisted: the next refresh can use it


def test_status_and_official_replies_reach_the_citizen_where_they_wrote(stack, platforms):
    first, _, _, _ = stack
    zuser, muser = uid(), uid()
    post_zalo(first, platforms, zuser, "xin chào")
    post_messenger(first, platforms, [[messenger_text(muser, "xin chào")]])
    wait_until(lambda: platforms.zalo.sent_to(zuser) and platforms.meta.sent_to(muser))
    zcode = file_item(first, zuser, channel="zalo")
    mcode = file_item(first, muser, channel="messenger")
    # officials' replies and notices go from the worker process (it starts after its classifier)
    wait_until(lambda: any("đã được chuyển đến" in t for t in platforms.zalo.texts_to(zuser)),
               timeout=120, what="the routed notice on Zalo")
    reply(first, zcode, "Xã đã cho thông cống ngày 5/12.")
    reply(first, mcode, "Xã đã cho thông cống ngày 6/12.")
    wait_until(lambda: any("thông cống ngày 5/12" in t for t in platforms.zalo.texts_to(zuser)),
               timeout=90, what="the reply on Zalo")
    wait_until(lambda: any("thông cống ngày 6/12" in (t or "")
                           for t in platforms.meta.texts_to(muser)), timeout=30,
               what="the reply on Messenger")
    sent = [m for m in platforms.meta.sent_to(muser) if "6/12" in (m["message"].get("text") or "")]
    assert [(m["messaging_type"], m["tag"]) for m in sent] == [("MESSAGE_TAG", "HUMAN_AGENT")]
    notices = [m for m in platforms.meta.sent_to(muser)
               if "đã được chuyển đến" in (m["message"].get("text") or "")]
    assert notices and notices[0]["messaging_type"] == "UPDATE"


def test_outside_the_window_a_reply_is_not_sent_and_the_history_says_why(stack, platforms):
    first, _, database, _ = stack
    user = uid()
    post_zalo(first, platforms, user, "xin chào")
    wait_until(lambda: platforms.zalo.sent_to(user))
    with database.session() as session:
        session.execute(text("UPDATE channel_user SET last_inbound_at = :t WHERE user_id = :u"),
                        {"t": utcnow() - timedelta(days=8), "u": user})
    code = file_item(first, user, channel="zalo")
    reply(first, code, "Trả lời sau hơn bảy ngày.")
    error = wait_until(lambda: scalar(
        database, "SELECT last_error FROM outbox_message WHERE dedupe_key LIKE :k "
                  "AND status = 'dead'", k=f"reply:{code}:%"), timeout=90, what="dead reply")
    assert "7 ngày" in error
    status, item = first.request("GET", f"/api/v1/feedback/{code}", token=first.tokens["admin"])
    assert status == 200
    assert item["public_reply"] == "Trả lời sau hơn bảy ngày."  # still on the status page
    history = scalar(database, "SELECT count(*) FROM feedback_event e JOIN feedback_item i "
                               "ON e.item_id = i.id WHERE i.tracking_code = :c "
                               "AND e.action = 'not_delivered'", c=code)
    assert history == 2  # the routed notice and the reply
    assert platforms.zalo.texts_to(user) == ["Bạn vừa nói: xin chào"]


def test_a_citizen_can_stop_status_notices_and_still_gets_replies(stack, platforms):
    first, *_ = stack
    user = uid()
    post_zalo(first, platforms, user, "Dừng thông báo")
    wait_until(lambda: platforms.zalo.texts_to(user))
    assert "không gửi tin cập nhật" in platforms.zalo.texts_to(user)[0]
    code = file_item(first, user, channel="zalo")
    reply(first, code, "Đã xử lý xong.")
    wait_until(lambda: any("Đã xử lý xong" in t for t in platforms.zalo.texts_to(user)),
               timeout=90)
    assert not any("đã được chuyển đến" in t for t in platforms.zalo.texts_to(user))


def test_erasure_and_export_cover_the_gateway(stack, platforms):
    first, _, database, _ = stack
    user = uid()
    post_zalo(first, platforms, user, "số điện thoại của tôi 0912345678")
    wait_until(lambda: platforms.zalo.sent_to(user))
    query = f"/api/v1/personal-data?channel=zalo&sender_id={user}"
    status, body = first.request("GET", query, token=first.tokens["admin"])
    assert status == 200, body
    assert "0912345678" in json.dumps(body, ensure_ascii=False)
    status, body = first.request("DELETE", query, token=first.tokens["admin"])
    assert status == 200, body
    for table in ("channel_event", "channel_user"):
        assert scalar(database, f"SELECT count(*) FROM {table} WHERE user_id = :u", u=user) == 0
    assert scalar(database, "SELECT count(*) FROM outbox_message "
                            "WHERE CAST(payload AS TEXT) LIKE :u", u=f"%{user}%") == 0


def test_readiness_reports_each_channel(stack, platforms):
    first, *_ = stack
    status, body = first.request("GET", "/readyz")
    assert set(body["channels"]) == {"zalo", "messenger"}
    zalo = body["channels"]["zalo"]
    assert zalo["on"] and zalo["last_event_at"] and zalo["token_expires_at"]
