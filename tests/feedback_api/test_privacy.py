"""Export and erasure of a citizen's personal data reach every store the product writes.

One citizen leaves personal data everywhere, through the real flows: an item with contact
details and their phone number in its text (the liaison's email carries the text), a reply
(outbox, ``citizen_message``, reply events), a vote, a conversation in Rasa's tracker store
written by Rasa's own store class (SQLite next to the SQLite feedback DB, PostgreSQL next to the
PostgreSQL one), and pending and refused submissions in the action server's outbox written by
its own ``Outbox``. The export must return something from every holder; after the erasure, a
raw scan of every table and column of every database (and, for SQLite files, of their bytes)
finds neither the sender id nor the phone number nor the name. Another citizen's data stays.
"""

from __future__ import annotations

import json
import re
import secrets
import sqlite3
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, text

from tests.chat.test_lock_store import RASA_PYTHON, run_script
from tests.conftest import REPO
from tests.feedback_api.conftest import PG_ADMIN_URL, fresh_pg_database
from tests.feedback_api.server import api_with_tokens, service_env

HOLDERS = {"actions_outbox", "rasa_tracker", "citizen_messages", "feedback_outbox",
           "answer_votes", "feedback_items", "channel_gateway"}
# holds nothing of a web-chat citizen (Zalo and Messenger: tests/channels/test_gateway.py)
NOT_WEB = {"channel_gateway"}

WRITE_TRACKER = """
    import asyncio, json, sys
    sys.path.insert(1, ".")
    from rasa.core.tracker_store import SQLTrackerStore
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.events import ActionExecuted, BotUttered, SlotSet, UserUttered
    from rasa.shared.core.trackers import DialogueStateTracker
    from addons.tracker_store import SQLiteTrackerStore
    cfg = json.loads(CFG)
    domain = Domain.load("domain")
    if cfg["sqlite"]:
        store = SQLiteTrackerStore(domain=domain, db=cfg["sqlite"])
    else:
        store = SQLTrackerStore(domain, dialect="postgresql", host="127.0.0.1", port=5432,
                                db=cfg["pg_db"], username="postgres")
    async def main():
        for sender, phone in cfg["conversations"]:
            tracker = DialogueStateTracker(sender, domain.slots)
            tracker.update(ActionExecuted("action_listen"))
            tracker.update(UserUttered("Tôi muốn phản ánh đèn đường hỏng, số tôi " + phone,
                                       {"name": "complain"}, input_channel="rest"))
            tracker.update(SlotSet("phone", phone))
            tracker.update(BotUttered("Số điện thoại của bạn: " + phone))
            await store.save(tracker)
    asyncio.run(main())
    print(json.dumps({"ok": True}))
"""


def phone_number() -> str:
    return "09" + "".join(secrets.choice("123456789") for _ in range(8))


def write_tracker(cfg: dict) -> None:
    code = WRITE_TRACKER.replace("CFG", repr(json.dumps(cfg)))
    assert run_script(code, cwd=REPO / "bot", PYTHONPATH="") == {"ok": True}


@pytest.fixture(scope="module")
def tracker(db_url, tmp_path_factory):
    """Rasa's tracker DB beside the feedback DB: (URL for the API, kwargs for Rasa)."""
    if not RASA_PYTHON.exists():
        pytest.skip("needs .venv-rasa (make install)")
    if db_url.startswith("sqlite"):
        path = tmp_path_factory.mktemp("tracker") / "tracker.db"
        yield f"sqlite:///{path}", {"sqlite": str(path)}
        return
    with fresh_pg_database("caunoi_tracker") as name:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name, {"sqlite": None, "pg_db": name}


@pytest.fixture(scope="module")
def api(db_url, database, model_dir, smtp, tracker, tmp_path_factory):
    outbox = tmp_path_factory.mktemp("actions") / "outbox.db"
    env = service_env(db_url, model_dir, smtp.port, CAUNOI_TRACKER_STORE_URL=tracker[0],
                      CAUNOI_ACTIONS_OUTBOX=str(outbox))
    server = api_with_tokens(env, "privacy", "service", "admin")
    server.outbox, server.tracker = outbox, tracker
    yield server
    server.stop()


def wait_for(predicate, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        time.sleep(0.1)
    return None


def scan_sql(url: str, needles: list[str]) -> list[tuple[str, str, str]]:
    """(table, column, needle) for every cell of every table that contains a needle."""
    engine = create_engine(url)
    hits = []
    try:
        with engine.connect() as conn:
            for table in inspect(conn).get_table_names():
                result = conn.execute(text(f'SELECT * FROM "{table}"'))
                columns = list(result.keys())
                for row in result:
                    for column, value in zip(columns, row, strict=True):
                        cell = value if isinstance(value, str) else json.dumps(value, default=str)
                        hits += [(table, column, n) for n in needles if n in (cell or "")]
    finally:
        engine.dispose()
    return hits


def scan_bytes(path: Path, needles: list[str]) -> list[tuple[str, str]]:
    """Needles found anywhere in a SQLite file or its write-ahead log (free pages too)."""
    hits = []
    for file in (path, Path(f"{path}-wal")):
        if file.is_file():
            data = file.read_bytes()
            hits += [(file.name, n) for n in needles if n.encode() in data]
    return hits


def citizen(api, sender: str, phone: str, name: str, marker: str) -> str:
    """Personal data of one citizen in every store, through the real flows; the item's code."""
    from actions.outbox import Outbox

    tracker_url, rasa_cfg = api.tracker
    service, admin = api.tokens["service"], api.tokens["admin"]
    spaced = f"{phone[:4]}.{phone[4:7]}.{phone[7:]}"  # as people write it
    status, item = api.request("POST", "/api/v1/feedback", {
        "kind": "complaint", "channel": "web", "sender_id": sender,
        "idempotency_key": f"test-{secrets.token_hex(8)}",
        "text": f"Đèn đường {marker} hỏng cả tháng nay, ai cần thì gọi tôi số {spaced}.",
        "location": "xã San Sả Hồ, Sa Pa",
        "contact": {"name": name, "phone": phone, "consent": True}}, token=service)
    assert status == 201, item
    code = item["tracking_code"]
    status, body = api.request("PATCH", f"/api/v1/feedback/{code}", {"department": "giao-duc"},
                               token=admin)
    assert status == 200, body
    status, body = api.request("POST", f"/api/v1/feedback/{code}/notes",
                               {"text": f"Đã gọi cho {name} theo số {phone}."}, token=admin)
    assert status == 200, body
    status, body = api.request("POST", f"/api/v1/feedback/{code}/reply", {
        "text": f"Chào chị {name}, đèn đường đã được sửa. Cán bộ sẽ gọi lại số {phone}."},
        token=admin)
    assert status == 200, body
    status, body = api.request("POST", "/api/v1/answers/votes", {
        "question": "Đèn đường hỏng thì báo ai?", "helpful": True, "channel": "web",
        "sender_id": sender, "idempotency_key": f"test-{secrets.token_hex(8)}",
        "citations": []}, token=service)
    assert status == 201, body
    write_tracker({**rasa_cfg, "conversations": [[sender, phone]]})
    outbox = Outbox(str(api.outbox), client=None)
    for n in (1, 2):
        outbox.reserve(f"bot-complaint-{secrets.token_hex(8)}", "/api/v1/feedback", {
            "kind": "complaint", "text": f"Phản ánh {marker} số {n}, gọi {phone}",
            "channel": "web", "sender_id": sender, "contact": {"phone": phone, "consent": True},
        }, "complaint")
    with sqlite3.connect(api.outbox) as db:  # the API refused one of them for good
        db.execute("UPDATE submission SET status = 'failed', last_error = 'HTTP 422'"
                   " WHERE rowid = (SELECT max(rowid) FROM submission)")
    return code


def citizen_message_delivered(database, sender: str) -> bool:
    from feedback_api.notify.orm import CitizenMessage

    with database.session() as s:
        return s.query(CitizenMessage).filter_by(sender_id=sender).count() > 0


def outbox_rows(database) -> list:
    from feedback_api.notify.orm import OutboxMessage

    with database.session() as s:
        return [(m.kind, m.status, m.attempts, m.last_error) for m in s.query(OutboxMessage)]


def test_erasure_reaches_every_store_and_export_reads_every_store(api, database, db_url):
    sender, other = f"web-{secrets.token_hex(9)}", f"web-{secrets.token_hex(9)}"
    phone, other_phone = phone_number(), phone_number()
    name = f"Lò Thị Mai {secrets.token_hex(3)}"
    code = citizen(api, sender, phone, name, "bản Cát Cát")
    other_code = citizen(api, other, other_phone, "Vàng A Dình", "bản Tả Phìn")
    for who in (sender, other):
        assert wait_for(lambda w=who: citizen_message_delivered(database, w), timeout=120), \
            outbox_rows(database)
    admin = api.tokens["admin"]
    query = f"/api/v1/personal-data?channel=web&sender_id={sender}"

    status, export = api.request("GET", query, token=admin)
    assert status == 200, export
    assert set(export["covered"]) == HOLDERS and export["skipped"] == [], export
    empty = [name for name in HOLDERS - NOT_WEB if not export["data"][name]]
    assert empty == [], f"export found nothing in {empty}"
    assert phone in json.dumps(export["data"]["rasa_tracker"])
    assert {r["status"] for r in export["data"]["actions_outbox"]} == {"pending", "failed"}

    status, erased = api.request("DELETE", query, token=admin)
    assert status == 200, erased
    assert set(erased["covered"]) == HOLDERS, erased
    assert all(n for name, n in erased["erased"].items() if name not in NOT_WEB), erased

    needles = [sender, phone, f"{phone[:4]}.{phone[4:7]}.{phone[7:]}", name]
    tracker_url = api.tracker[0]
    found = {"feedback DB": scan_sql(db_url, needles), "tracker": scan_sql(tracker_url, needles),
             "actions outbox": scan_sql(f"sqlite:///{api.outbox}", needles)}
    assert found == {"feedback DB": [], "tracker": [], "actions outbox": []}
    for path in [api.outbox] + ([Path(api.tracker[1]["sqlite"])] if api.tracker[1]["sqlite"]
                                else []):
        assert scan_bytes(path, needles) == [], path
    # the other citizen's data is all still there
    kept = [other, other_phone]
    assert {n for *_, n in scan_sql(db_url, kept)} == set(kept)
    assert {n for *_, n in scan_sql(tracker_url, kept)} == set(kept)
    assert {n for *_, n in scan_sql(f"sqlite:///{api.outbox}", kept)} == set(kept)
    # what remains of the erased citizen: the complaint's words, without who said them
    status, item = api.request("GET", f"/api/v1/feedback/{code}", token=admin)
    assert status == 200 and "bản Cát Cát" in item["text"] and "[đã xóa]" in item["text"], item
    assert item["sender_id"] is None and item["contact"] is None
    assert item["events"][-1]["action"] == "erased"
    _, kept_item = api.request("GET", f"/api/v1/feedback/{other_code}", token=admin)
    assert kept_item["sender_id"] == other
    # the pending submission is still delivered, anonymously; the refused one is gone
    with sqlite3.connect(api.outbox) as db:
        rows = db.execute("SELECT status, payload FROM submission").fetchall()
    mine = [(s, json.loads(p)) for s, p in rows if "Cát Cát" in p]
    assert [(s, p["sender_id"], "contact" in p) for s, p in mine] == [("pending", None, False)]
    # erasing again finds nothing more
    status, again = api.request("DELETE", query, token=admin)
    assert status == 200 and not any(again["erased"].values()), again
    status, export = api.request("GET", query, token=admin)
    assert status == 200 and not any(export["data"].values()), export


def test_export_and_erasure_are_audited_without_the_sender_id(api, database):
    from feedback_api.auth.orm import AuditEntry

    sender = f"web-{secrets.token_hex(9)}"
    admin = api.tokens["admin"]
    query = f"/api/v1/personal-data?channel=web&sender_id={sender}"
    assert api.request("GET", query, token=admin)[0] == 200
    status, body = api.request("DELETE", query, token=admin)
    assert status == 200, body
    with database.session() as s:
        entries = s.query(AuditEntry).filter(AuditEntry.action.like("privacy.%")).all()
        mine = [e for e in entries if e.target == entries[-1].target]
        assert [e.action for e in mine][-2:] == ["privacy.export", "privacy.erase"]
        last = mine[-1]
        assert last.actor == "token:privacy-admin"
        assert last.details["channel"] == "web" and set(last.details["counts"]) == HOLDERS
        assert re.fullmatch(r"subject:[0-9a-f]{32}", last.target)
        assert sender not in json.dumps([last.target, last.details, last.actor])


def test_unconfigured_stores_are_named_as_skipped(database, tmp_path):
    from feedback_api.privacy.holders import build
    from feedback_api.settings import Settings

    bare = Settings(load_search=False, data_dir=tmp_path, tracker_store_url=None,
                    actions_outbox=None)
    with database.session() as session:
        holders, skipped = build(bare).bind(session, "test")
    assert set(skipped) == {"rasa_tracker", "actions_outbox"}
    assert {h.name for h in holders} == HOLDERS - set(skipped)


@pytest.mark.parametrize("query", ["channel=web", "channel=fax&sender_id=x",
                                   "channel=web&sender_id=" + "x" * 201])
def test_bad_requests_are_a_clear_4xx(api, query):
    for method in ("GET", "DELETE"):
        status, body = api.request(method, f"/api/v1/personal-data?{query}",
                                   token=api.tokens["admin"])
        assert status == 422, body
    status, _ = api.request("DELETE", "/api/v1/personal-data?channel=web&sender_id=x",
                            token=api.tokens["service"])
    assert status == 403


def test_the_tracker_channel_table_is_the_action_servers():
    """tracker.CHANNELS must be actions/conversation.py's (read without importing rasa_sdk)."""
    import ast

    from feedback_api.privacy.tracker import CHANNELS

    tree = ast.parse((REPO / "actions" / "conversation.py").read_text())
    table = next(ast.literal_eval(node.value) for node in ast.walk(tree)
                 if isinstance(node, ast.Assign)
                 and getattr(node.targets[0], "id", "") == "CHANNELS")
    assert CHANNELS == table


def test_compose_gives_the_api_the_stores_of_rasa_and_the_action_server():
    """The production stack: the API (and the worker) reach the tracker database Rasa uses and
    the action server's outbox file, on a volume they share."""
    import yaml

    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())["services"]
    api, actions, rasa = compose["api"], compose["actions"], compose["rasa"]["environment"]
    url = api["environment"]["CAUNOI_TRACKER_STORE_URL"]
    assert url.endswith(f"@{rasa['RASA_DB_HOST']}:{rasa['RASA_DB_PORT']}/{rasa['RASA_DB_NAME']}")
    assert compose["worker"]["environment"]["CAUNOI_TRACKER_STORE_URL"] == url
    outbox = actions["environment"]["CAUNOI_ACTIONS_OUTBOX"]
    assert api["environment"]["CAUNOI_ACTIONS_OUTBOX"] == outbox
    shared = [v for v in actions["volumes"] if v.startswith("actions-outbox:")]
    assert shared and shared[0] in api["volumes"] and outbox.startswith(shared[0].split(":")[1])


def test_prune_deletes_the_conversations_whose_last_event_is_older(tmp_path):
    """Retention (the worker calls it): a conversation goes only when all of it is old."""
    from datetime import UTC, datetime, timedelta

    from feedback_api.privacy.tracker import TrackerStore, events

    store = TrackerStore(f"sqlite:///{tmp_path / 'tracker.db'}")
    events.create(store.engine)  # Rasa's columns (the table Rasa would have made)
    day, now = 86400, time.time()
    with store.engine.begin() as conn:
        for sender, ages in {"old": (100, 95), "mixed": (100, 1), "new": (0,)}.items():
            for age in ages:
                conn.execute(events.insert().values(sender_id=sender, type_name="user",
                                                    timestamp=now - age * day, data="{}"))
    assert store.prune(datetime.now(UTC) - timedelta(days=90)) == 1
    with store.engine.connect() as conn:
        left = set(conn.execute(text("SELECT DISTINCT sender_id FROM events")).scalars())
    assert left == {"mixed", "new"}
    with pytest.raises(ValueError):
        store.prune(datetime.now() - timedelta(days=90))  # noqa: DTZ005 - naive on purpose
    store.dispose()


def test_a_tracker_store_that_cannot_be_reached_is_a_503_not_a_500():
    from feedback_api.privacy.registry import StoreUnavailable, Subject
    from feedback_api.privacy.tracker import TrackerStore
    from tests.feedback_api.conftest import free_port

    store = TrackerStore(f"postgresql://nobody@127.0.0.1:{free_port()}/rasa")  # nothing listens
    for call in (store.export, store.erase):
        with pytest.raises(StoreUnavailable) as raised:
            call(Subject("web", "web-x"))
        assert raised.value.status == 503 and "Rasa" in raised.value.message
    store.dispose()
