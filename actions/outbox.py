"""Durable local outbox: nothing a citizen sends is lost while the feedback API is down.

Every submission of the assistant (complaint, proposal, forwarded question, handoff request,
vote) is written here FIRST, under its idempotency key, and only then sent. For feedback the
tracking code is reserved here too (same format as the API's ``feedback/codes.py``), so the
citizen gets their code at once and it never changes: the API stores the item under that code.

- A row is ``pending`` until the API accepts it (2xx: ``delivered``) or refuses it for good
  (400/404/409/413/422: ``failed``, logged). Connection errors, timeouts, 5xx, 401/403 (a token
  to fix) and 429 keep it pending, retried with exponential backoff by one background thread.
- Sending again is safe: the same idempotency key and code make the API answer 200 with the
  same item, so a retry after a lost response never duplicates anything.
- Several action-server processes may share the file: a row is leased before it is sent.
- Once delivered, the payload (which may hold a phone number) is erased; delivered rows are
  deleted after ``KEEP_DAYS``.
- ``export_sender`` / ``erase_sender`` serve the API's personal-data export and erasure, which
  opens this file directly (standard library only, no server needed).

Environment: ``CAUNOI_ACTIONS_OUTBOX`` (default ``var/actions_outbox.db``),
``CAUNOI_ACTIONS_OUTBOX_MAX_DELAY`` (seconds between retries at most, default 300).
"""

from __future__ import annotations

import json
import logging
import os
import random
import secrets
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from actions.api_client import REPO, ApiClient, ApiError

log = logging.getLogger(__name__)

DEFAULT_PATH = REPO / "var" / "actions_outbox.db"
# Tracking codes exactly as the API makes them (feedback_api/feedback/codes.py; the API checks).
ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
CODE_LENGTH = 8
PREFIX = {"complaint": "PA", "proposal": "KN", "question": "CH"}
LEASE = 60.0  # seconds a sender owns a row (longer than any request timeout)
KEEP_DAYS = 30
KICK_EVERY = 3.0  # at most one forced retry (on an action call) per this many seconds

SCHEMA = """
CREATE TABLE IF NOT EXISTS submission (
    idempotency_key TEXT PRIMARY KEY,
    path            TEXT NOT NULL,
    payload         TEXT NOT NULL,
    tracking_code   TEXT UNIQUE,
    status          TEXT NOT NULL DEFAULT 'pending',
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL NOT NULL,
    leased_until    REAL,
    last_error      TEXT,
    response        TEXT,
    created_at      REAL NOT NULL,
    delivered_at    REAL
);
CREATE INDEX IF NOT EXISTS ix_submission_due ON submission (status, next_attempt_at);
"""


def new_code(kind: str) -> str:
    return f"{PREFIX[kind]}-" + "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


@dataclass(frozen=True)
class Entry:
    key: str
    tracking_code: str | None
    status: str  # pending | delivered | failed
    attempts: int
    response: dict | None
    last_error: str | None


class Outbox:
    def __init__(self, path: str | None, client: ApiClient, *,
                 max_delay: float | None = None) -> None:
        env = os.environ
        self.path = Path(path or env.get("CAUNOI_ACTIONS_OUTBOX") or DEFAULT_PATH)
        self.client = client
        self.max_delay = float(max_delay or env.get("CAUNOI_ACTIONS_OUTBOX_MAX_DELAY") or 300)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.executescript(SCHEMA)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._last_kick = 0.0
        self._thread: threading.Thread | None = None

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        db.row_factory = sqlite3.Row
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")  # a reserved code survives a power cut
        db.execute("PRAGMA busy_timeout=30000")
        return db

    # --- writing ---------------------------------------------------------------------------
    def reserve(self, key: str, path: str, payload: dict, kind: str | None = None) -> Entry:
        """Record a submission once per key (with a new tracking code for feedback kinds).

        Another call with the same key returns the first record unchanged: its code, its state.
        """
        now = time.time()
        for _ in range(5):
            code = new_code(kind) if kind else None
            body = dict(payload, idempotency_key=key)
            if code:
                body["tracking_code"] = code
            db = self._connect()
            try:
                db.execute(
                    "INSERT OR IGNORE INTO submission (idempotency_key, path, payload,"
                    " tracking_code, next_attempt_at, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                    (key, path, json.dumps(body, ensure_ascii=False), code, now, now),
                )
            except sqlite3.IntegrityError:  # the code collided (1 in 10^12): draw another
                continue
            finally:
                db.close()
            entry = self.get(key)
            if entry is not None:
                return entry
        raise RuntimeError("could not reserve a tracking code")

    def get(self, key: str) -> Entry | None:
        return self._find("idempotency_key", key)

    def find_code(self, code: str) -> Entry | None:
        return self._find("tracking_code", code)

    def _find(self, column: str, value: str) -> Entry | None:
        """The row whose ``column`` (one of the two unique ones, never user input) is ``value``."""
        db = self._connect()
        try:
            row = db.execute(f"SELECT * FROM submission WHERE {column} = ?", (value,)).fetchone()
        finally:
            db.close()
        return _entry(row) if row else None

    def pending(self) -> int:
        db = self._connect()
        try:
            return db.execute("SELECT count(*) FROM submission WHERE status = 'pending'"
                              ).fetchone()[0]
        finally:
            db.close()

    # --- sending ---------------------------------------------------------------------------
    def _claim(self, key: str) -> sqlite3.Row | None:
        now = time.time()
        db = self._connect()
        try:
            cur = db.execute(
                "UPDATE submission SET leased_until = ? WHERE idempotency_key = ?"
                " AND status = 'pending' AND (leased_until IS NULL OR leased_until < ?)",
                (now + LEASE, key, now),
            )
            if cur.rowcount != 1:
                return None
            return db.execute("SELECT * FROM submission WHERE idempotency_key = ?",
                              (key,)).fetchone()
        finally:
            db.close()

    def deliver(self, key: str, *, timeout: float | None = None,
                params: dict | None = None) -> Entry:
        """Try to send one submission now; returns its state afterwards.

        If another sender holds it (the background thread), wait a little for its result.
        """
        deadline = time.monotonic() + (timeout or self.client.timeout) + 2
        while True:
            row = self._claim(key)
            if row is not None:
                self._send(row, timeout=timeout, params=params)
                break
            entry = self.get(key)
            if entry is None:
                raise KeyError(key)
            if entry.status != "pending" or time.monotonic() >= deadline:
                return entry
            time.sleep(0.1)
        entry = self.get(key)
        assert entry is not None
        return entry

    def _send(self, row: sqlite3.Row, *, timeout: float | None = None,
              params: dict | None = None) -> None:
        key, path = row["idempotency_key"], row["path"]
        payload = json.loads(row["payload"])
        attempts = row["attempts"] + 1
        try:
            response = self.client.post(path, payload, timeout=timeout, params=params)
        except ApiError as exc:
            if exc.retryable:
                delay = min(self.max_delay, 2.0 ** min(attempts, 20)) * random.uniform(0.8, 1.2)
                self._update(key, status="pending", attempts=attempts, error=str(exc),
                             next_at=time.time() + delay)
                log.warning("outbox: %s not sent yet (attempt %d, next in %.0f s): %s",
                            key, attempts, delay, exc)
                # the background thread may be asleep for up to a minute (nothing was pending
                # when it last looked): it must wake to keep this schedule
                self._wake.set()
            else:
                self._update(key, status="failed", attempts=attempts, error=str(exc))
                level = logging.INFO if path.endswith("/votes") else logging.ERROR
                log.log(level, "outbox: %s refused by the API, not retried: %s", key, exc)
            return
        self._update(key, status="delivered", attempts=attempts, response=response)
        log.info("outbox: %s delivered (%s)", key, row["tracking_code"] or path)

    def _update(self, key: str, *, status: str, attempts: int, error: str | None = None,
                next_at: float | None = None, response: Any = None) -> None:
        now = time.time()
        db = self._connect()
        try:
            if status == "delivered":
                db.execute(
                    "UPDATE submission SET status = 'delivered', attempts = ?, leased_until ="
                    " NULL, last_error = NULL, response = ?, delivered_at = ?, payload = '{}'"
                    " WHERE idempotency_key = ?",
                    (attempts, json.dumps(response, ensure_ascii=False), now, key),
                )
            else:
                db.execute(
                    "UPDATE submission SET status = ?, attempts = ?, leased_until = NULL,"
                    " last_error = ?, next_attempt_at = COALESCE(?, next_attempt_at)"
                    " WHERE idempotency_key = ?",
                    (status, attempts, error, next_at, key),
                )
        finally:
            db.close()

    def deliver_due(self, limit: int = 50) -> int:
        """Send what is due (oldest first); returns how many were delivered."""
        now = time.time()
        db = self._connect()
        try:
            keys = [r[0] for r in db.execute(
                "SELECT idempotency_key FROM submission WHERE status = 'pending'"
                " AND next_attempt_at <= ? ORDER BY created_at LIMIT ?", (now, limit))]
            db.execute("DELETE FROM submission WHERE status = 'delivered' AND delivered_at < ?",
                       (now - KEEP_DAYS * 86400,))
        finally:
            db.close()
        delivered = 0
        for key in keys:
            row = self._claim(key)
            if row is None:
                continue
            self._send(row)
            entry = self.get(key)
            if entry is not None and entry.status == "delivered":
                delivered += 1
            elif entry is not None and entry.status == "pending":
                break  # the API is still down: the rest waits for the next round
        return delivered

    def _next_due_in(self) -> float:
        db = self._connect()
        try:
            row = db.execute("SELECT min(next_attempt_at) FROM submission"
                             " WHERE status = 'pending'").fetchone()
        finally:
            db.close()
        if row[0] is None:
            return 60.0
        return max(0.2, min(60.0, row[0] - time.time()))

    # --- the background thread -------------------------------------------------------------
    def kick(self) -> None:
        """A drain attempt (called at each action): pending rows are retried now, not later."""
        now = time.monotonic()
        if now - self._last_kick < KICK_EVERY:
            return
        self._last_kick = now
        db = self._connect()
        try:
            cur = db.execute("UPDATE submission SET next_attempt_at = ? WHERE status = 'pending'"
                             " AND next_attempt_at > ?", (time.time(), time.time()))
            moved = cur.rowcount
        finally:
            db.close()
        if moved:
            self._wake.set()

    def start(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._thread = threading.Thread(target=self._loop, name="caunoi-outbox", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.deliver_due()
                wait = self._next_due_in()
            except Exception:  # noqa: BLE001 - the thread must survive a bad row or a full disk
                log.exception("outbox: delivery round failed")
                wait = 5.0
            self._wake.wait(wait)
            self._wake.clear()


def _entry(row: sqlite3.Row) -> Entry:
    return Entry(
        key=row["idempotency_key"],
        tracking_code=row["tracking_code"],
        status=row["status"],
        attempts=row["attempts"],
        response=json.loads(row["response"]) if row["response"] else None,
        last_error=row["last_error"],
    )


# --- personal data: what the API's export and erasure read (feedback_api/privacy/) ---------
@contextmanager
def _senders_rows(path: str | Path, channel: str, sender_id: str) -> Iterator[tuple]:
    """(connection, [(row, payload)]) of this citizen's undelivered rows (delivered rows keep
    no payload); no rows if there is no file (it is never created here)."""
    if not Path(path).is_file():
        yield None, []
        return
    db = sqlite3.connect(f"{Path(path).resolve().as_uri()}?mode=rw", uri=True, timeout=30,
                         isolation_level=None)
    try:
        db.row_factory = sqlite3.Row
        db.execute("PRAGMA secure_delete=ON")  # erased bytes are overwritten, not left behind
        db.execute("BEGIN IMMEDIATE")
        _same_owner(Path(path))
        rows = [(r, p) for r in db.execute("SELECT * FROM submission WHERE status != 'delivered'")
                if (p := json.loads(r["payload"] or "{}")).get("sender_id") == sender_id
                and p.get("channel") == channel]
        yield db, rows
    finally:
        db.close()


def _same_owner(path: Path) -> None:
    """The API may run as root (compose): the -wal/-shm files its connection made must stay the
    action server's, or the action server could no longer open its own outbox."""
    owner = path.stat()
    for extra in (Path(f"{path}-wal"), Path(f"{path}-shm")):
        if os.geteuid() == 0 and extra.exists() and extra.stat().st_uid != owner.st_uid:
            os.chown(extra, owner.st_uid, owner.st_gid)


def export_sender(path: str | Path, *, channel: str, sender_id: str) -> list[dict]:
    """What the outbox holds about one citizen: their pending and refused submissions."""
    with _senders_rows(path, channel, sender_id) as (_, rows):
        return [{"tracking_code": row["tracking_code"], "path": row["path"],
                 "status": row["status"], "created_at": row["created_at"],
                 "payload": {k: v for k, v in payload.items() if k != "idempotency_key"}}
                for row, payload in rows]


def erase_sender(path: str | Path, *, channel: str, sender_id: str) -> int:
    """Erase one citizen from the outbox; returns how many rows changed.

    A refused submission (``failed``) goes nowhere any more: it is deleted. A pending one is
    still delivered, without identity: no sender id, no contact, the id and phone number cut
    out of its text (as the API keeps an erased citizen's items).
    """
    with _senders_rows(path, channel, sender_id) as (db, rows):
        for row, payload in rows:
            key = row["idempotency_key"]
            if row["status"] == "failed":
                db.execute("DELETE FROM submission WHERE idempotency_key = ?", (key,))
                continue
            contact = payload.pop("contact", None) or {}
            for value in filter(None, (sender_id, contact.get("phone"), contact.get("name"))):
                for field in ("text", "question"):
                    if isinstance(payload.get(field), str):
                        payload[field] = payload[field].replace(value, "[đã xóa]")
            db.execute("UPDATE submission SET payload = ?, last_error = NULL WHERE"
                       " idempotency_key = ?", (json.dumps(dict(payload, sender_id=None),
                                                           ensure_ascii=False), key))
        if db is not None:
            db.execute("COMMIT")
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # no old page copy left in the log
        return len(rows)
