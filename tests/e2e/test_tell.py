"""Tell and track, end to end: a complaint conversation through a real `rasa run` ends with a
tracking code, and the API holds the item with the right department; the API going away while
the citizen confirms loses nothing and duplicates nothing."""

from __future__ import annotations

import re
import sqlite3
import time
import uuid
from urllib.parse import quote

from tests.e2e.conftest import file_feedback, texts


def wait_for(predicate, timeout: float = 90.0, interval: float = 0.5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        time.sleep(interval)
    return None


def outbox_status(stack, code: str) -> str | None:
    """The action server's outbox row for ``code``: pending, delivered or failed."""
    db = sqlite3.connect(stack.outbox, timeout=5)
    try:
        row = db.execute("SELECT status FROM submission WHERE tracking_code = ?",
                         (code,)).fetchone()
    finally:
        db.close()
    return row[0] if row else None


def items_with(stack, marker: str) -> list[dict]:
    """Items whose text contains ``marker`` (the API's full-text filter)."""
    status, body = stack.get(f"/api/v1/feedback?limit=200&q={quote(marker)}",
                             token=stack.admin_token)
    assert status == 200, body
    return body["items"]


def test_a_complaint_conversation_ends_with_a_code_and_reaches_the_right_department(stack):
    sender = f"tell-{uuid.uuid4().hex[:8]}"
    code, turns = file_feedback(
        lambda text: stack.say(sender, text),
        "Tôi muốn phản ánh: trường tiểu học ở xã Bản Xèo thiếu giáo viên, các cháu phải học ghép"
        " hai lớp cả năm nay",
        location="xã Bản Xèo, Bát Xát",
    )
    assert code and code.startswith("PA-"), [texts(t) for t in turns]
    item = wait_for(lambda: (lambda r: r[1] if r[0] == 200 and r[1]["department"] else None)(
        stack.get(f"/api/v1/feedback/{code}", token=stack.admin_token)))
    assert item is not None, stack.get(f"/api/v1/feedback/{code}", token=stack.admin_token)
    assert item["kind"] == "complaint" and item["channel"] == "web", item
    assert item["department"] == "giao-duc", item
    assert "thiếu giáo viên" in item["text"] and item["location"], item
    # the citizen can track it by sending the code inside a sentence
    status = texts(stack.say(sender, f"cho mình hỏi mã {code} xử lý đến đâu rồi"))
    assert code in status or "tiếp nhận" in status or "chuyển" in status, status


def test_api_down_at_confirmation_loses_nothing_and_duplicates_nothing(stack):
    marker = f"cầu treo bản {uuid.uuid4().hex[:6]}"
    sender = f"outbox-{uuid.uuid4().hex[:8]}"
    say = lambda text: stack.say(sender, text)  # noqa: E731
    code, turns = file_feedback(
        say, f"Phản ánh: {marker} ở xã Trịnh Tường bị hỏng ván, trẻ em đi học rất nguy hiểm",
        location="xã Trịnh Tường, Bát Xát", confirm=False)
    assert code is None and "Gửi" in str(turns[-1]), [texts(t) for t in turns]
    stack.stop_api()
    try:
        reply = say("/affirm")
    finally:
        stack.start_api()
    said = texts(reply)
    code = next(iter(re.findall(r"\b(?:PA|KN)-[0-9A-Z]{8}\b", said)), None)
    assert code, said
    delivered = wait_for(lambda: stack.get(f"/api/v1/status/{code}")[0] == 200, timeout=120)
    assert delivered, stack.logs_tail()
    # the outbox marks the submission delivered once the API answered; from then on nothing
    # sends it again, so counting after that sees any duplicate there will ever be
    assert wait_for(lambda: outbox_status(stack, code) == "delivered", timeout=60), \
        outbox_status(stack, code)
    matching = items_with(stack, marker)
    assert [i["tracking_code"] for i in matching] == [code], matching
