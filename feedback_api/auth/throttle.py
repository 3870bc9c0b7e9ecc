"""Limits on password guessing: a per-username and per-address backoff, and a bound on the
password verifications one process runs at once.

Failures are rows of ``login_attempt``, so every API process counts the same ones. Within
``WINDOW`` (15 minutes), from the ``per_user``-th failure of a username (default 5), or the
``per_ip``-th failure from one client address (default 20), further attempts wait
``BASE`` × 2^(failures − limit) after the last failure: 30 s, 1 min, 2 min … at most ``CAP``
(15 minutes). A waiting attempt is refused before any password is checked: no argon2 run, no
database write. A successful login clears its username's failures (they still count for the
address, so that logging in to one's own account does not buy more guesses at others).

Each argon2 verification allocates 64 MiB; ``VerificationGate`` lets at most two run at once
per process, so a flood of logins is answered "busy" instead of exhausting memory.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from feedback_api.auth.orm import LoginAttempt
from feedback_api.db import utcnow

WINDOW = timedelta(minutes=15)
BASE = timedelta(seconds=30)
CAP = timedelta(minutes=15)
KEEP = timedelta(days=1)  # failure rows are deleted after a day (the audit log keeps the events)


@dataclass(frozen=True)
class Limits:
    per_user: int = 5
    per_ip: int = 20


@dataclass(frozen=True)
class Lock:
    """A refusal in force: who is locked, until when, after how many failures."""

    scope: str  # "user" | "ip"
    failures: int
    seconds: int  # left to wait, rounded up


def _lock(scope: str, failures: int, last: datetime | None, limit: int,
          now: datetime) -> Lock | None:
    if failures < limit or last is None:
        return None
    length = min(BASE * 2 ** (failures - limit), CAP)
    left = (last + length - now).total_seconds()
    return Lock(scope, failures, math.ceil(left)) if left > 0 else None


def current_lock(session: Session, *, username: str, ip: str, limits: Limits,
                 now: datetime | None = None) -> Lock | None:
    """The longest lock on this username or address, or None (two indexed counts)."""
    now = now or utcnow()
    since = now - WINDOW
    user_failures, user_last = session.execute(
        select(func.count(), func.max(LoginAttempt.at)).where(
            LoginAttempt.username == username, LoginAttempt.at >= since,
            LoginAttempt.cleared.is_(False))).one()
    ip_failures, ip_last = session.execute(
        select(func.count(), func.max(LoginAttempt.at)).where(
            LoginAttempt.ip == ip, LoginAttempt.at >= since)).one()
    locks = [lock for lock in (_lock("user", user_failures, user_last, limits.per_user, now),
                               _lock("ip", ip_failures, ip_last, limits.per_ip, now)) if lock]
    return max(locks, key=lambda lock: lock.seconds, default=None)


def record_failure(session: Session, *, username: str, ip: str, limits: Limits,
                   now: datetime | None = None) -> Lock | None:
    """Count a failed password check; returns the lock it starts, if any."""
    now = now or utcnow()
    session.execute(delete(LoginAttempt).where(LoginAttempt.at < now - KEEP))
    session.add(LoginAttempt(at=now, username=username, ip=ip, cleared=False))
    session.flush()
    return current_lock(session, username=username, ip=ip, limits=limits, now=now)


def clear_failures(session: Session, *, username: str) -> None:
    """A successful login: the username's failures stop counting for the username."""
    session.execute(update(LoginAttempt).where(LoginAttempt.username == username,
                                               LoginAttempt.cleared.is_(False))
                    .values(cleared=True))


class VerificationGate:
    """At most ``slots`` password verifications at once in this process."""

    def __init__(self, slots: int = 2, *, wait: float = 1.0) -> None:
        self._slots = threading.BoundedSemaphore(slots)
        self.wait = wait

    @contextmanager
    def slot(self) -> Iterator[bool]:
        """Yields True with a slot held, or False when none freed up within ``wait`` seconds."""
        held = self._slots.acquire(timeout=self.wait)
        try:
            yield held
        finally:
            if held:
                self._slots.release()


GATE = VerificationGate(2, wait=1.0)
