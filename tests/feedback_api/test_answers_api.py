"""What the assistant needs from the API, on SQLite and PostgreSQL through a real server:
tracking codes reserved by the bot (outbox), and votes on answers."""

from __future__ import annotations

import secrets
import uuid

import pytest

from tests.feedback_api.server import api_with_tokens, service_env

ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"


@pytest.fixture(scope="module")
def api(db_url, database, model_dir, smtp):
    env = service_env(db_url, model_dir, smtp.port)
    server = api_with_tokens(env, "answers", "service", "admin", "triage")
    yield server
    server.stop()


def code(prefix: str = "PA") -> str:
    return f"{prefix}-" + "".join(secrets.choice(ALPHABET) for _ in range(8))


def feedback(api, role: str = "service", **fields):
    body = {"kind": "complaint", "channel": "zalo", "sender_id": "zalo-42",
            "text": "Trạm y tế xã Bản Hồ đóng cửa cả buổi sáng, người ốm phải chờ",
            "idempotency_key": f"bot-{uuid.uuid4().hex}", **fields}
    return api.request("POST", "/api/v1/feedback", body, token=api.tokens[role])


def test_reserved_code_is_kept_and_resending_is_the_same_item(api):
    reserved, key = code(), f"bot-{uuid.uuid4().hex}"
    status, first = feedback(api, tracking_code=reserved, idempotency_key=key)
    assert status == 201, first
    assert first["tracking_code"] == reserved
    status, again = feedback(api, tracking_code=reserved, idempotency_key=key)
    assert status == 200 and again["tracking_code"] == reserved
    status, public = api.request("GET", f"/api/v1/status/{reserved}")
    assert status == 200 and public["kind"] == "complaint"


def test_a_code_already_used_by_another_item_is_a_conflict(api):
    reserved = code()
    assert feedback(api, tracking_code=reserved)[0] == 201
    status, body = feedback(api, tracking_code=reserved, text="Một phản ánh khác hẳn")
    assert status == 409 and reserved in body["detail"]


def test_same_key_with_another_code_is_a_conflict(api):
    key = f"bot-{uuid.uuid4().hex}"
    assert feedback(api, tracking_code=code(), idempotency_key=key)[0] == 201
    status, body = feedback(api, tracking_code=code(), idempotency_key=key)
    assert status == 409 and "mã theo dõi" in body["detail"]


@pytest.mark.parametrize(("reserved", "kind", "expected"), [
    ("KN-" + "A" * 8, "complaint", 422),  # the prefix says proposal
    ("PA-ABCDEFG1", "complaint", 422),  # 1 is not in the alphabet
    ("PA-ABCDEFG", "complaint", 422),  # 7 symbols
    ("pa-abcdefgh", "complaint", 422),
])
def test_malformed_or_mismatched_codes_are_refused(api, reserved, kind, expected):
    status, body = feedback(api, tracking_code=reserved, kind=kind)
    assert status == expected, body
    assert body["detail"]  # one Vietnamese sentence


def test_only_the_assistant_may_reserve_codes(api):
    status, body = feedback(api, role="admin", tracking_code=code())
    assert status == 403 and "mã theo dõi" in body["detail"]
    assert feedback(api, role="admin")[0] == 201  # without a code: as before


def vote(api, role: str | None = "service", **fields):
    body = {"question": "đăng ký tạm trú cần giấy tờ gì", "helpful": True, "channel": "web",
            "sender_id": "web-7", "idempotency_key": f"bot-vote-{uuid.uuid4().hex}",
            "citations": [{"law_id": "Luật Cư trú 2020", "article_id": "28"}], **fields}
    return api.request("POST", "/api/v1/answers/votes", body,
                       token=api.tokens[role] if role else None)


def summary(api) -> dict:
    status, body = api.request("GET", "/api/v1/answers/votes/summary?limit=200",
                               token=api.tokens["triage"])
    assert status == 200, body
    return body


def article(body: dict, law_id: str, article_id: str) -> dict:
    return next((a for a in body["articles"]
                 if (a["law_id"], a["article_id"]) == (law_id, article_id)),
                {"helpful": 0, "not_helpful": 0})


def test_votes_are_stored_once_per_key_and_counted_per_article(api):
    before = summary(api)
    key = f"bot-vote-{uuid.uuid4().hex}"
    status, first = vote(api, idempotency_key=key)
    assert status == 201 and first["helpful"] is True
    status, again = vote(api, idempotency_key=key)
    assert status == 200 and again["id"] == first["id"]
    assert vote(api, helpful=False, citations=[{"law_id": "Luật Cư trú 2020",
                                                "article_id": "28"}])[0] == 201
    after = summary(api)
    assert after["total"] == before["total"] + 2
    assert after["not_helpful"] == before["not_helpful"] + 1
    was, now = (article(b, "Luật Cư trú 2020", "28") for b in (before, after))
    assert (now["helpful"], now["not_helpful"]) == (was["helpful"] + 1, was["not_helpful"] + 1)


def test_same_vote_key_with_another_verdict_is_a_conflict(api):
    key = f"bot-vote-{uuid.uuid4().hex}"
    assert vote(api, idempotency_key=key)[0] == 201
    status, body = vote(api, idempotency_key=key, helpful=False)
    assert status == 409 and "idempotency_key" in body["detail"]


@pytest.mark.parametrize("fields", [
    {"question": "   "},
    {"question": "x" * 1001},
    {"helpful": "có lẽ"},
    {"channel": "sms"},
    {"idempotency_key": "ngắn"},
    {"citations": [{"law_id": "", "article_id": "1"}]},
    {"extra": 1},
])
def test_bad_votes_are_a_clear_422(api, fields):
    status, body = vote(api, **fields)
    assert status == 422, body
    assert body["detail"].startswith("Dữ liệu không hợp lệ")


def test_votes_need_the_right_token(api):
    assert vote(api, role=None)[0] == 401
    assert vote(api, role="triage")[0] == 403
    status, _ = api.request("GET", "/api/v1/answers/votes/summary",
                            token=api.tokens["service"])
    assert status == 403


def test_summary_since_a_time(api):
    status, body = api.request(
        "GET", "/api/v1/answers/votes/summary?since=2999-01-01T00:00:00%2B07:00",
        token=api.tokens["admin"])
    assert status == 200 and body["total"] == 0
    status, body = api.request("GET", "/api/v1/answers/votes/summary?since=2020-01-01T00:00:00",
                               token=api.tokens["admin"])
    assert status == 422
