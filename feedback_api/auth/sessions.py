"""Officials' login sessions, kept on the server so that they can be ended.

The browser's cookie carries a random token (inbox/sessions.py signs it); the database keeps
only the token's SHA-256, with the account, the start and the last request. A session counts
while it has not been ended (logout, deactivation, password change), has seen a request in the
last ``idle`` minutes and is less than ``MAX_AGE`` old. A stolen or replayed cookie is therefore
worth nothing once the official logs out, and a forged one never was: without a live row, the
cookie's signature alone opens nothing.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from feedback_api.auth.orm import LoginSession, User
from feedback_api.auth.service import Principal, principal_for_user
from feedback_api.db import utcnow

MAX_AGE = timedelta(hours=12)  # an official logs in once per working day
TOUCH_EVERY = timedelta(minutes=1)  # last_seen_at is written at most this often, not per request
KEEP = timedelta(days=30)  # rows (ended or not) are deleted this long after the login


@dataclass(frozen=True)
class SignedIn:
    """A live session's official, and whether they must choose a new password first."""

    principal: Principal
    must_change_password: bool


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(session: Session, *, user: User, now: datetime | None = None) -> str:
    """A new session for ``user``; returns the token for the cookie (only its hash is kept)."""
    now = now or utcnow()
    session.execute(delete(LoginSession).where(LoginSession.created_at < now - KEEP))
    token = secrets.token_urlsafe(32)
    session.add(LoginSession(token_hash=_digest(token), user_id=user.id, created_at=now,
                             last_seen_at=now))
    session.flush()
    return token


def resolve_session(session: Session, *, token: str, idle: timedelta,
                    now: datetime | None = None) -> SignedIn | None:
    """The live session for this token, or None; a session found too old is ended here."""
    row = session.scalar(select(LoginSession).where(LoginSession.token_hash == _digest(token)))
    if row is None or row.ended_at is not None:
        return None
    now = now or utcnow()
    user = session.get(User, row.user_id)
    reason = None
    if user is None or not user.active:
        reason = "deactivated"
    elif now - row.created_at > MAX_AGE:
        reason = "expired"
    elif now - row.last_seen_at > idle:
        reason = "idle"
    if reason is not None:
        row.ended_at, row.ended_reason = now, reason
        return None
    if now - row.last_seen_at >= TOUCH_EVERY:
        row.last_seen_at = now
    return SignedIn(principal_for_user(user), user.must_change_password)


def end_session(session: Session, *, token: str, reason: str) -> bool:
    """End the session of this token (logout); False if it was not live."""
    ended = session.execute(
        update(LoginSession)
        .where(LoginSession.token_hash == _digest(token), LoginSession.ended_at.is_(None))
        .values(ended_at=utcnow(), ended_reason=reason))
    return bool(ended.rowcount)


def end_user_sessions(session: Session, *, user_id: int, reason: str) -> int:
    """End every live session of this account (deactivation, password change)."""
    ended = session.execute(
        update(LoginSession)
        .where(LoginSession.user_id == user_id, LoginSession.ended_at.is_(None))
        .values(ended_at=utcnow(), ended_reason=reason))
    return ended.rowcount or 0
