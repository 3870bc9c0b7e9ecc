"""Checking and changing officials' passwords, with their audit rows.

``attempt_login`` is the one way a password is verified from the web: the throttle first (no
argon2 while locked), then a slot of the verification gate, then argon2, then the failure or
success is counted and audited. ``set_password`` is the one way a password changes (own page,
admin page, command line): it ends every session of the account.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.orm import Session

from feedback_api.auth import throttle
from feedback_api.auth.orm import User
from feedback_api.auth.service import audit, authenticate, check_password, hash_password
from feedback_api.auth.sessions import end_user_sessions

BOOTSTRAP_USERNAME = "admin"  # the account `serve --bootstrap-admin` creates
FIRST_LOGIN_FILE = "first-login.txt"  # in the data directory, until that admin's first change
BUSY_RETRY = 2  # seconds a "busy" answer asks the client to wait


@dataclass(frozen=True)
class Outcome:
    """``user`` on success; else ``retry_after`` > 0 when refused unchecked (``busy``: the
    gate was full, else a lock), or neither for a wrong password."""

    user: User | None = None
    retry_after: int = 0
    busy: bool = False


def attempt_login(session: Session, *, username: str, password: str, ip: str,
                  limits: throttle.Limits, login: bool = True) -> Outcome:
    """Verify a password under the throttle; the caller commits (failures and audit rows).

    ``login=False`` checks the current password on the password page: same throttle, no
    ``auth.login`` row.
    """
    lock = throttle.current_lock(session, username=username, ip=ip, limits=limits)
    if lock is not None:
        return Outcome(retry_after=lock.seconds)
    with throttle.GATE.slot() as held:
        if not held:
            return Outcome(retry_after=BUSY_RETRY, busy=True)
        user = authenticate(session, username=username, password=password)
    if user is None:
        audit(session, actor=f"ip:{ip}", action="auth.login_failed", target=username,
              details={"ip": ip, **({} if login else {"where": "password_change"})})
        lock = throttle.record_failure(session, username=username, ip=ip, limits=limits)
        if lock is not None:
            audit(session, actor=f"ip:{ip}", action="auth.locked",
                  target=username if lock.scope == "user" else f"ip:{ip}",
                  details={"ip": ip, "scope": lock.scope, "failures": lock.failures,
                           "seconds": lock.seconds})
        return Outcome()
    throttle.clear_failures(session, username=username)
    if login:
        audit(session, actor=f"user:{user.username}", action="auth.login",
              target=user.username, details={"ip": ip})
    return Outcome(user=user)


def set_password(session: Session, *, user: User, password: str, actor: str,
                 ip: str | None = None, must_change: bool = False) -> None:
    """A new password; every session of the account ends (the caller may start a new one).

    ``must_change``: the owner must choose another at the next login (a password someone else
    set, e.g. an admin's reset).
    """
    check_password(password)
    user.password_hash = hash_password(password)
    user.must_change_password = must_change
    ended = end_user_sessions(session, user_id=user.id, reason="password")
    audit(session, actor=actor, action="auth.password_change", target=user.username,
          details={"sessions_ended": ended, "must_change": must_change,
                   **({"ip": ip} if ip else {})})


def forget_first_login(data_dir: Path, user: User) -> None:
    """The bootstrap admin chose a password: the file holding the first one goes."""
    if user.username == BOOTSTRAP_USERNAME:
        (Path(data_dir) / FIRST_LOGIN_FILE).unlink(missing_ok=True)
