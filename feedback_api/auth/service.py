"""Tokens, passwords and who may see what.

Verified tokens are cached for 30 seconds per process (the bot calls on every turn).
``revoke_tokens`` drops them from the cache of the process that revokes; other API processes
stop accepting a revoked token within those 30 seconds.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from feedback_api.auth.orm import ApiToken, AuditEntry, User
from feedback_api.db import utcnow
from feedback_api.errors import Conflict, Invalid

TOKEN_ROLES = ("service", "admin", "triage")
MIN_PASSWORD, MAX_PASSWORD = 8, 200  # the login form reads at most 200 characters
USER_ROLES = ("admin", "triage", "liaison")
_hasher = PasswordHasher()
# Verified against when the username is unknown, so timing does not reveal which users exist.
_DUMMY_HASH = _hasher.hash("not-a-real-password")


@dataclass(frozen=True)
class Principal:
    """Who is calling: a token or a logged-in official."""

    kind: str  # "token" | "user"
    name: str
    role: str  # service | admin | triage | liaison
    department: str | None = None  # liaisons only
    user_id: int | None = None

    @property
    def actor(self) -> str:
        return f"{self.kind}:{self.name}"

    @property
    def is_official(self) -> bool:
        return self.role in ("admin", "triage", "liaison")

    def sees(self, department: str | None) -> bool:
        """Admins and triage see every department; a liaison only their own."""
        return self.role in ("admin", "triage") or (
            self.role == "liaison" and department is not None and department == self.department
        )


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(session: Session, *, name: str, role: str) -> str:
    """A new bearer token; returns the secret once (only its hash is stored)."""
    if role not in TOKEN_ROLES:
        raise Invalid(f"Vai trò không hợp lệ: {role} (chọn {', '.join(TOKEN_ROLES)}).")
    secret = "cn_" + secrets.token_urlsafe(32)
    session.add(ApiToken(name=name, role=role, token_hash=_digest(secret)))
    session.flush()
    return secret


_TOKEN_TTL = 30.0  # seconds a verified token is trusted without asking the database again
_token_cache: dict[str, tuple[Principal, float]] = {}


def principal_for_token(session: Session, *, token: str) -> Principal | None:
    """The token's principal; valid tokens are cached briefly (the bot calls on every turn)."""
    digest = _digest(token)
    cached = _token_cache.get(digest)
    if cached is not None and cached[1] > time.monotonic():
        return cached[0]
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == digest))
    if row is None or row.revoked_at is not None:
        _token_cache.pop(digest, None)
        return None
    principal = Principal(kind="token", name=row.name, role=row.role)
    if len(_token_cache) > 10_000:
        _token_cache.clear()
    _token_cache[digest] = (principal, time.monotonic() + _TOKEN_TTL)
    return principal


def revoke_tokens(session: Session, *, name: str, actor: str, ip: str | None = None) -> int:
    """Revoke every live token of this name; returns how many (0: none was live).

    This process forgets them at once; another API process within ``_TOKEN_TTL`` seconds.
    """
    rows = list(session.scalars(select(ApiToken).where(ApiToken.name == name,
                                                       ApiToken.revoked_at.is_(None))))
    now = utcnow()
    for row in rows:
        row.revoked_at = now
        _token_cache.pop(row.token_hash, None)
    if rows:
        audit(session, actor=actor, action="token.revoke", target=name,
              details={"tokens": len(rows), **({"ip": ip} if ip else {})})
    return len(rows)


def check_password(password: str) -> None:
    """The one rule for a new password, wherever it is set."""
    if len(password) < MIN_PASSWORD:
        raise Invalid(f"Mật khẩu cần ít nhất {MIN_PASSWORD} ký tự.")
    if len(password) > MAX_PASSWORD:
        raise Invalid(f"Mật khẩu dài quá {MAX_PASSWORD} ký tự.")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def create_user(
    session: Session,
    *,
    username: str,
    password: str,
    role: str,
    full_name: str = "",
    department: str | None = None,
    must_change_password: bool = False,
) -> User:
    """An official's account; liaisons belong to one department."""
    if role not in USER_ROLES:
        raise Invalid(f"Vai trò không hợp lệ: {role} (chọn {', '.join(USER_ROLES)}).")
    if role == "liaison" and not department:
        raise Invalid("Đầu mối (liaison) phải thuộc một cơ quan: thêm --department.")
    check_password(password)
    if session.scalar(select(User).where(User.username == username)) is not None:
        raise Conflict(f"Tài khoản '{username}' đã có.")
    user = User(
        username=username,
        full_name=full_name,
        password_hash=_hasher.hash(password),
        role=role,
        department_code=department if role == "liaison" else None,
        must_change_password=must_change_password,
    )
    session.add(user)
    session.flush()
    return user


def authenticate(session: Session, *, username: str, password: str) -> User | None:
    """The active user with this password, or None (same work either way)."""
    user = session.scalar(select(User).where(User.username == username))
    try:
        if user is None or not user.active:
            _hasher.verify(_DUMMY_HASH, password + "x")
            return None
        _hasher.verify(user.password_hash, password)
        return user
    except (VerificationError, InvalidHashError):
        return None


def principal_for_user(user: User) -> Principal:
    return Principal(
        kind="user",
        name=user.username,
        role=user.role,
        department=user.department_code,
        user_id=user.id,
    )


def audit(session: Session, *, actor: str, action: str, target: str, details: dict | None = None):
    """Record an administrative write or an authentication event (who, what, on which object).

    Callers put the client address in ``details["ip"]``; never a password.
    """
    entry = AuditEntry(actor=actor, action=action, target=target, details=details or {})
    session.add(entry)
    return entry
