"""Erasure end to end: a citizen files a complaint through a real `rasa run` and leaves a phone
number in the conversation, the department replies, and an admin erases the citizen's personal
data through the API. Then no database file of the product (the API's, Rasa's tracker, the
action server's outbox) holds the sender id or the phone number in any table or column, nor, for
the two files the erasure rewrites with SQLite's secure delete (tracker, outbox), anywhere in
their bytes."""

from __future__ import annotations

import json
import secrets
import sqlite3
import time
from pathlib import Path

from tests.actions.servers import http
from tests.e2e.conftest import TRACKING_CODE, buttons, texts


def scan(path: Path, needles: list[str]) -> list[tuple[str, str, str]]:
    """(table, column, needle) for every cell of every table of a SQLite file holding one."""
    db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=10)
    try:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        hits = []
        for table in tables:
            cursor = db.execute(f'SELECT * FROM "{table}"')
            columns = [c[0] for c in cursor.description]
            for row in cursor:
                for column, value in zip(columns, row, strict=True):
                    hits += [(table, column, n) for n in needles if n in str(value)]
        return hits
    finally:
        db.close()


def wait_for(predicate, timeout: float = 90.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        time.sleep(0.3)
    return None


def in_bytes(path: Path, needles: list[str]) -> list[str]:
    files = [f for f in (path, Path(f"{path}-wal")) if f.is_file()]
    return [f"{f.name}: {n}" for f in files for n in needles if n.encode() in f.read_bytes()]


def complain_with_phone(say, opening: str, phone: str, location: str) -> str | None:
    """Fill the form, agreeing to leave a phone number; the tracking code the bot gives."""
    messages = say(opening)
    for _ in range(14):
        said, offered = texts(messages), buttons(messages)
        if match := TRACKING_CODE.search(said):
            return match.group(0)
        if "Gửi" in offered:
            reply = offered["Gửi"]
        elif "Đồng ý" in offered and "điện thoại" in said:
            reply = offered["Đồng ý"]
        elif "nhập số điện thoại" in said or "Số điện thoại chưa đúng" in said:
            reply = phone
        elif "xã" in said and "thôn" in said and "?" in said:
            reply = location
        elif "Bỏ qua" in offered:
            reply = offered["Bỏ qua"]
        else:
            raise AssertionError(f"unexpected turn: {said!r} {offered}")
        messages = say(reply)
    return None


def test_erasure_leaves_neither_sender_id_nor_phone_in_any_store(stack):
    assert stack.tracker_db is not None, "the stack's Rasa must use the SQLite tracker"
    sender = f"privacy-{secrets.token_hex(6)}"
    phone = "09" + "".join(secrets.choice("123456789") for _ in range(8))
    code = complain_with_phone(
        lambda text: stack.say(sender, text),
        "Tôi muốn phản ánh: đường vào bản Nậm Cang bị sạt lở, xe máy không qua được",
        phone, "bản Nậm Cang, xã Liêm Phú, Văn Bàn")
    assert code, stack.logs_tail()
    item = wait_for(lambda: (lambda r: r[1] if r[0] == 200 and r[1]["status"] != "new"
                             else None)(stack.get(f"/api/v1/feedback/{code}",
                                                  token=stack.admin_token)))
    assert item and item["sender_id"] == sender, stack.logs_tail()
    assert (item["contact"] or {}).get("phone") == phone, item
    # the department answers: the reply goes to the citizen through the API's outbox
    status, body = http("POST", f"{stack.api_url}/api/v1/feedback/{code}/reply",
                        {"text": f"Đoạn đường đã được thông xe. Cán bộ sẽ gọi số {phone}."},
                        token=stack.admin_token)
    assert status == 200, body
    api_db = Path(stack.env["DATABASE_URL"].split("///", 1)[1])
    assert wait_for(lambda: any(t == "citizen_message" for t, *_ in scan(api_db, [sender])))
    stores = {"API": api_db, "tracker": stack.tracker_db, "actions outbox": stack.outbox}
    needles = [sender, phone]
    before = {name: {n for *_, n in scan(path, needles)} for name, path in stores.items()}
    # the scan sees them before: the phone is in the tracker (the slot, the utterance)
    assert before["API"] == {sender, phone} and before["tracker"] == {sender, phone}, before

    status, export = stack.get(f"/api/v1/personal-data?channel=web&sender_id={sender}",
                               token=stack.admin_token)
    assert status == 200 and export["skipped"] == [], export
    assert phone in json.dumps(export["data"]["rasa_tracker"], ensure_ascii=False)
    status, erased = http("DELETE", f"{stack.api_url}/api/v1/personal-data?channel=web"
                          f"&sender_id={sender}", token=stack.admin_token)
    assert status == 200, erased
    assert erased["erased"]["feedback_items"] == 1 and erased["erased"]["rasa_tracker"] > 0

    after = {name: scan(path, needles) for name, path in stores.items()}
    assert after == {"API": [], "tracker": [], "actions outbox": []}
    assert in_bytes(stack.tracker_db, needles) == [] and in_bytes(stack.outbox, needles) == []
    status, item = stack.get(f"/api/v1/feedback/{code}", token=stack.admin_token)
    assert status == 200 and "sạt lở" in item["text"] and item["sender_id"] is None, item
