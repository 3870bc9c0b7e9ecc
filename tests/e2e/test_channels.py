"""Zalo end to end with the real assistant: a question answered with the article cited and a
link to read it, a complaint filed with buttons, the item stored under the citizen's Zalo id,
and the official's reply delivered on Zalo (the fake platform, tests/fakes/)."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
import uuid

from tests.e2e.conftest import file_feedback, texts
from tests.fakes.platforms import zalo_event, zalo_headers


def zalo_say(stack, user: str):
    """``say(text) -> messages`` over Zalo: a signed event in, what the fake received out
    (each as {"text", "buttons"}), once the turn has been quiet for a second."""
    fake, platforms = stack.platforms.zalo, stack.platforms

    def say(text: str) -> list[dict]:
        before = len(fake.sent_to(user))
        raw = zalo_event(app_id=platforms.zalo_app_id, user_id=user, text=text)
        headers = zalo_headers(raw, app_id=platforms.zalo_app_id,
                               oa_secret=platforms.zalo_oa_secret)
        status, _ = _post(stack, raw, headers)
        assert status == 200
        deadline, seen, quiet_since = time.monotonic() + 90, before, time.monotonic()
        while time.monotonic() < deadline:
            count = len(fake.sent_to(user))
            if count != seen:
                seen, quiet_since = count, time.monotonic()
            elif count > before and time.monotonic() - quiet_since > 1.5:
                break
            time.sleep(0.1)
        return [{"text": fake.text_of(m["message"]) or "",
                 "buttons": [{"title": b["title"], "payload": b["payload"]}
                             for b in fake.buttons_of(m["message"])]}
                for m in fake.sent_to(user)[before:]]

    return say


def _post(stack, raw: bytes, headers: dict):
    request = urllib.request.Request(f"{stack.api_url}/webhooks/zalo", data=raw,
                                     headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, {}


def test_zalo_ask_tell_and_the_reply_comes_back_on_zalo(stack):
    user = str(uuid.uuid4().int)[:18]
    say = zalo_say(stack, user)
    answer = texts(say("đăng ký thường trú cần giấy tờ gì"))
    assert "Điều" in answer and "/van-ban/" in answer, answer
    code, turns = file_feedback(
        say, "Tôi muốn phản ánh: đèn đường ở thôn Lao Chải xã Tả Van hỏng cả tháng nay")
    assert code, [texts(t) for t in turns]
    status, item = stack.get(f"/api/v1/feedback/{code}", token=stack.admin_token)
    assert status == 200, item
    assert (item["channel"], item["sender_id"]) == ("zalo", user), item
    deadline = time.monotonic() + 60
    while item["status"] == "new" and time.monotonic() < deadline:
        time.sleep(0.5)
        item = stack.get(f"/api/v1/feedback/{code}", token=stack.admin_token)[1]
    request = urllib.request.Request(
        f"{stack.api_url}/api/v1/feedback/{code}/reply", method="POST",
        data=json.dumps({"text": "Điện lực đã thay bóng đèn ngày 7/12."}).encode(),
        headers={"Content-Type": "application/json",
                 "Authorization": f"Bearer {stack.admin_token}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 200
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if any("thay bóng đèn" in t for t in stack.platforms.zalo.texts_to(user)):
            break
        time.sleep(0.3)
    assert any("thay bóng đèn" in t for t in stack.platforms.zalo.texts_to(user))
