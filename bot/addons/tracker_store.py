"""Rasa's SQL tracker store, tuned for the embedded SQLite default.

Rasa 3.6's ``SQLTrackerStore`` on a SQLite file opens a new connection for every read and write
(SQLAlchemy's ``NullPool``) and commits in SQLite's default rollback-journal mode with
``synchronous=FULL``: several fsyncs per message, on the event loop that serves every
conversation. Profiling ``rasa run`` under load put the tracker store at about a quarter of the
time spent on a message, half of the save in ``commit``.

This store keeps the same tables and the same queries and changes only how SQLite is driven:

- **WAL journal, ``synchronous=NORMAL``**: a commit appends to the write-ahead log without
  waiting for the disk; the log is synced at checkpoints. A crash of Rasa loses nothing; a power
  cut may lose the last moments of conversation state, never corrupts the file. Readers (a
  backup, an export) do not block the writer.
- **A small pool of connections** instead of one per query.
- ``busy_timeout`` so a second writer (another process) waits instead of failing at once.

``endpoints.yml``::

    tracker_store:
      type: addons.tracker_store.SQLiteTrackerStore
      db: ../var/rasa_tracker.db

For PostgreSQL use Rasa's own ``type: SQL`` (``endpoints.production.yml``).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from rasa.core.brokers.broker import EventBroker
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from sqlalchemy.orm import sessionmaker
from sqlalchemy.pool import QueuePool

PRAGMAS = (
    "PRAGMA busy_timeout=5000",  # first: switching to WAL waits for other connections
    "PRAGMA journal_mode=WAL",  # kept in the file once set
    "PRAGMA synchronous=NORMAL",
)


def _apply_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        for pragma in PRAGMAS:
            cursor.execute(pragma)
    finally:
        cursor.close()


class SQLiteTrackerStore(SQLTrackerStore):
    """``SQLTrackerStore`` on a SQLite file in WAL mode with pooled connections."""

    def __init__(
        self,
        domain: Domain | None = None,
        db: str = "rasa.db",
        event_broker: EventBroker | None = None,
        host: str | None = None,
        **kwargs: Any,
    ) -> None:
        if host:
            raise ValueError(
                "SQLiteTrackerStore keeps conversations in a local file: set 'db', not 'url'"
            )
        kwargs.pop("dialect", None)
        super().__init__(domain=domain, dialect="sqlite", db=db, event_broker=event_broker,
                         **kwargs)
        # Rebuild the engine: the parent's uses NullPool and has already connected once.
        self.engine.dispose()
        self.engine = sa.create_engine(
            self.engine.url,
            poolclass=QueuePool,
            pool_size=2,
            max_overflow=4,
            # sqlite3 refuses a connection made on another thread; a pooled connection is
            # only ever used by one thread at a time, whichever thread Rasa calls from.
            connect_args={"check_same_thread": False},
        )
        sa.event.listen(self.engine, "connect", _apply_pragmas)
        self.sessionmaker = sessionmaker(bind=self.engine)
        with self.engine.connect():  # switch the file to WAL now, not at the first message
            pass
