"""Rasa's tracker store, read and erased from the API: every conversation, utterance and slot.

Rasa 3.6's SQL tracker store keeps one table, ``events`` (id, sender_id, type_name, timestamp,
intent_name, action_name, data as JSON text), on SQLite (``make run``: var/rasa/tracker.db,
bot/addons/tracker_store.py) or PostgreSQL (docker-compose: database ``rasa``). The API reaches
it through ``CAUNOI_TRACKER_STORE_URL``, a SQLAlchemy URL.

**Whose conversation.** The web chat (feedback_api/chat/) posts to Rasa under the sender id of
its signed cookie, and the action server files items under ``tracker.sender_id`` (at most 200
characters, actions/conversation.py): the Rasa sender id of the citizen (channel, sender_id) is
the item's sender id itself (Zalo and Messenger citizens talk to Rasa as ``zalo:<id>``,
``messenger:<id>``: the channel gateway's prefix, which the action server strips). The channel
is what the action server derives from the input channel of the user's messages (``CHANNELS``,
the same table as actions/conversation.py), so a conversation is the subject's only if it came
in over their channel.

Deleting a conversation deletes its rows; on SQLite with ``secure_delete`` (the bytes are
overwritten) and a truncating checkpoint (no copy left in the write-ahead log).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import event as sa_event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from feedback_api.privacy.registry import StoreUnavailable, Subject

NAME = "rasa_tracker"
MAX_SENDER = 200  # the action server cuts longer Rasa sender ids to this for the API
NAMESPACED = ("zalo", "messenger")  # channels/dispatcher.py: Rasa knows them with a prefix
# Rasa input channel -> the API's channel names (a copy of actions/conversation.py's; a test
# keeps them equal: the action server runs on another Python and the API cannot import it).
CHANNELS = {
    "rest": "web", "socketio": "web", "web": "web", "chat": "web",
    "zalo": "zalo", "zalo_miniapp": "zalo_miniapp", "zalo_mini_app": "zalo_miniapp",
    "messenger": "messenger", "facebook": "messenger",
}
UNAVAILABLE = "Không truy cập được kho hội thoại của trợ lý (Rasa); hãy thử lại sau."
EXPORTED = {"user": ("text",), "bot": ("text",), "slot": ("name", "value")}

events = sa.Table(
    "events", sa.MetaData(),
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("sender_id", sa.String(255)),
    sa.Column("type_name", sa.String(255)),
    sa.Column("timestamp", sa.Float),
    sa.Column("intent_name", sa.String(255)),
    sa.Column("action_name", sa.String(255)),
    sa.Column("data", sa.Text),
)


def sqlalchemy_url(url: str) -> str:
    """postgres:// and postgresql:// mean psycopg 3 here (the API's driver), as DATABASE_URL."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def channel_of(input_channel: str | None) -> str:
    return CHANNELS.get((input_channel or "").lower(), "api")


class TrackerStore:
    """One tracker database: a personal-data holder, and retention (``prune``)."""

    name = NAME

    def __init__(self, url: str) -> None:
        self.engine: Engine = _engine(sqlalchemy_url(url))

    def _senders(self, conn: sa.Connection, subject: Subject) -> list[str]:
        """The Rasa sender ids of this citizen's conversations (one, or none)."""
        sender = subject.sender_id
        if subject.channel in NAMESPACED:  # the channel gateway's "<platform>:<user id>"
            sender = f"{subject.channel}:{sender}"
        match = events.c.sender_id == sender
        if len(sender) >= MAX_SENDER:  # the API kept only the first 200 characters
            match = events.c.sender_id.startswith(sender, autoescape=True)
        rows = conn.execute(sa.select(events.c.sender_id, events.c.data).where(
            match, events.c.type_name == "user"))
        found: dict[str, set[str]] = {}
        for rasa_sender, data in rows:
            found.setdefault(rasa_sender, set()).add(channel_of(_json(data).get("input_channel")))
        # a conversation without any user message yet belongs to whoever has that id
        quiet = conn.execute(sa.select(events.c.sender_id).where(match).distinct()).scalars()
        return [s for s in quiet if subject.channel in found.get(s, {subject.channel})]

    def export(self, subject: Subject) -> list[dict]:
        """What was said in the citizen's conversations, and the slots it filled."""
        out = []
        with self._connect() as conn:
            senders = self._senders(conn, subject) if conn is not None else []
            if not senders:
                return []
            rows = conn.execute(sa.select(events.c.type_name, events.c.timestamp, events.c.data)
                                .where(events.c.sender_id.in_(senders)).order_by(events.c.id))
            for type_name, timestamp, data in rows:
                if type_name in EXPORTED:
                    fields = _json(data)
                    out.append({"event": type_name, "at": _iso(timestamp),
                                **{k: fields.get(k) for k in EXPORTED[type_name]}})
        return out

    def erase(self, subject: Subject) -> int:
        """Delete the citizen's conversations; returns how many events were deleted."""
        with self._connect() as conn:
            senders = self._senders(conn, subject) if conn is not None else []
            if not senders:
                return 0
            deleted = conn.execute(events.delete().where(events.c.sender_id.in_(senders))).rowcount
            conn.commit()
        self._checkpoint()
        return deleted

    def prune(self, before: datetime) -> int:
        """Delete every conversation whose last event is older than ``before`` (retention);
        returns how many conversations were deleted."""
        if before.tzinfo is None:
            raise ValueError("naive datetime: use timezone-aware UTC times")
        with self._connect() as conn:
            if conn is None:
                return 0
            old = list(conn.execute(
                sa.select(events.c.sender_id).group_by(events.c.sender_id)
                .having(sa.func.max(events.c.timestamp) < before.timestamp())).scalars())
            for start in range(0, len(old), 500):
                conn.execute(events.delete().where(events.c.sender_id.in_(old[start:start + 500])))
            conn.commit()
        if old:
            self._checkpoint()
        return len(old)

    @contextmanager
    def _connect(self) -> Iterator[sa.Connection | None]:
        """A connection, or None when Rasa has stored nothing yet (no file, no table); a store
        that cannot be reached is ``StoreUnavailable`` (503), not a 500."""
        database = self.engine.url.database
        if self.engine.dialect.name == "sqlite" and not (database and Path(database).is_file()):
            yield None  # never create the file: Rasa makes it with its own schema
            return
        try:
            with self.engine.connect() as conn:
                yield conn if sa.inspect(conn).has_table("events") else None
        except SQLAlchemyError as exc:
            raise StoreUnavailable(UNAVAILABLE) from exc

    def _checkpoint(self) -> None:
        if self.engine.dialect.name != "sqlite":
            return  # PostgreSQL: the deleted rows are gone for every reader; VACUUM reclaims
        try:
            with self.engine.connect() as conn:
                conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        except SQLAlchemyError:
            pass  # busy: the log is checkpointed later; the rows are deleted either way

    def dispose(self) -> None:
        self.engine.dispose()


def _engine(url: str) -> Engine:
    if not url.startswith("sqlite"):
        return sa.create_engine(url, pool_size=2, max_overflow=2, pool_pre_ping=True)
    engine = sa.create_engine(url, connect_args={"timeout": 30})

    @sa_event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn, _record) -> None:
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute("PRAGMA secure_delete=ON")  # erased bytes are overwritten in the file
        cur.close()

    return engine


def _json(data: str | None) -> dict:
    try:
        value = json.loads(data or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _iso(timestamp: float | None) -> str | None:
    return datetime.fromtimestamp(timestamp, UTC).isoformat() if timestamp is not None else None
