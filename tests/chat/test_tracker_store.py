"""bot/addons/tracker_store.py: Rasa's SQL tracker store on SQLite in WAL mode.

Each check runs in the Rasa environment (Python 3.10), loading the store from bot/endpoints.yml
the way `rasa run` does (working directory bot/, no PYTHONPATH), against a real SQLite file.
"""

from __future__ import annotations

import sqlite3
import textwrap

import pytest

from tests.chat.test_lock_store import RASA_PYTHON, run_script
from tests.conftest import REPO

pytestmark = pytest.mark.skipif(not RASA_PYTHON.exists(), reason="needs .venv-rasa (make install)")

LOAD = """
    import asyncio, json, os, sys
    sys.path.insert(1, os.getcwd())  # what rasa's own main() does
    from rasa.core.tracker_store import TrackerStore
    from rasa.core.utils import read_endpoints_from_path
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.events import ActionExecuted, SlotSet, UserUttered
    from rasa.shared.core.trackers import DialogueStateTracker
    endpoints = read_endpoints_from_path("endpoints.yml")
    endpoints.tracker_store.kwargs["db"] = DB
    domain = Domain.load("domain")
    store = TrackerStore.create(endpoints.tracker_store, domain)
"""


def in_rasa(db, body: str) -> dict:
    code = (textwrap.dedent(LOAD) + textwrap.dedent(body)).replace("DB", repr(str(db)))
    return run_script(code, cwd=REPO / "bot", PYTHONPATH="")


def test_conversations_survive_a_restart_and_the_file_is_in_wal_mode(tmp_path):
    db = tmp_path / "tracker.db"
    first = in_rasa(db, """
        async def main():
            tracker = DialogueStateTracker("zalo-1", domain.slots)
            tracker.update(ActionExecuted("action_listen"))
            tracker.update(UserUttered("đất nông nghiệp có được xây nhà không",
                                       {"name": "ask_policy"}))
            await store.save(tracker)
            again = await store.retrieve("zalo-1")
            again.update(ActionExecuted("action_answer_question"))
            again.update(SlotSet("answer_confident", True))
            await store.save(again)
        asyncio.run(main())
        print(json.dumps({"class": type(store).__name__}))
    """)
    assert first == {"class": "SQLiteTrackerStore"}
    # a new process (a restarted `rasa run`) reads back every event once, in order
    second = in_rasa(db, """
        tracker = asyncio.run(store.retrieve("zalo-1"))
        print(json.dumps({"events": [e.type_name for e in tracker.events],
                          "text": tracker.latest_message.text,
                          "confident": tracker.get_slot("answer_confident")}))
    """)
    assert second == {"events": ["action", "user", "action", "slot"],
                      "text": "đất nông nghiệp có được xây nhà không", "confident": True}
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        rows = conn.execute("SELECT count(*) FROM events WHERE sender_id = 'zalo-1'").fetchone()
        assert rows == (4,)


def test_a_reader_holding_the_file_does_not_block_a_save(tmp_path):
    """WAL: a backup or an export reading the tracker file while Rasa writes costs Rasa nothing."""
    db = tmp_path / "tracker.db"
    in_rasa(db, 'print(json.dumps({}))')  # creates the tables
    reader = sqlite3.connect(db)
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM events").fetchone()  # a read transaction stays open
    try:
        saved = in_rasa(db, """
            tracker = DialogueStateTracker("web-2", domain.slots)
            tracker.update(UserUttered("xin chào"))
            asyncio.run(store.save(tracker))
            print(json.dumps({"kept": asyncio.run(store.retrieve("web-2")).latest_message.text}))
        """)
    finally:
        reader.rollback()
        reader.close()
    # in SQLite's default rollback-journal mode the commit waits for the reader to finish, and
    # fails with "database is locked" once busy_timeout (5 s) runs out
    assert saved == {"kept": "xin chào"}


def test_a_server_url_is_refused_with_a_clear_message(tmp_path):
    out = in_rasa(tmp_path / "t.db", """
        from addons.tracker_store import SQLiteTrackerStore
        try:
            SQLiteTrackerStore(domain=domain, host="db.example", db=DB)
        except ValueError as err:
            print(json.dumps({"error": str(err)}))
    """)
    assert "set 'db', not 'url'" in out["error"]
