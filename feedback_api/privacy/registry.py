"""Who holds a citizen's personal data: a registry of holders, one per store.

A citizen is a ``Subject``: the channel they wrote from and their id on it. Each store the
product writes registers a ``Holder`` that can export what it keeps about a subject and erase
it. A store that is not configured on this installation (no tracker URL, no action-server
outbox path) is registered as skipped, so every answer says which stores it covered. A later
store (the channel gateway's inbound events) registers one more holder; nothing else changes.

Holders run in registration order. Stores outside the feedback database commit on their own;
the feedback database's holders share the request's session, which commits with the audit
entry. An erasure that stops half-way (a store down: 503) is simply asked again: erasing what
is already erased changes nothing.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from sqlalchemy import text
from sqlalchemy.orm import Session

from feedback_api.auth.service import audit
from feedback_api.db import utcnow
from feedback_api.errors import DomainError


@dataclass(frozen=True)
class Subject:
    """One citizen: a channel (web, zalo, …) and their user id on it."""

    channel: str
    sender_id: str


class Holder(Protocol):
    """A store that may keep personal data about a subject."""

    name: str

    def export(self, subject: Subject) -> list[dict]:
        """Everything the store keeps about the subject, as JSON-ready records."""

    def erase(self, subject: Subject) -> int:
        """Remove the subject from the store; how many records were deleted or changed."""


# Makes the holder for one request: (its DB session, who asks) -> holder. The feedback DB's
# holders work in that session; the erasure event names who asked.
Factory = Callable[[Session, str], Holder]


class StoreUnavailable(DomainError):
    """A store that holds personal data cannot be reached now: nothing is claimed done."""

    status = 503


@dataclass
class Registry:
    """The personal-data holders of this installation, in the order they run."""

    entries: list[tuple[str, Factory | None]] = field(default_factory=list)
    closers: list[Callable[[], None]] = field(default_factory=list)

    def register(self, name: str, factory: Factory | None) -> None:
        """Add a store; ``factory=None`` says the store exists but is not configured here."""
        if any(n == name for n, _ in self.entries):
            raise ValueError(f"holder {name!r} registered twice")
        self.entries.append((name, factory))

    def bind(self, session: Session, actor: str) -> tuple[list[Holder], list[str]]:
        """(holders to run, names of the stores skipped because they are not configured)."""
        holders = [factory(session, actor) for _, factory in self.entries if factory is not None]
        return holders, [name for name, factory in self.entries if factory is None]

    def close(self) -> None:
        for close in self.closers:
            close()


def subject_ref(secret: bytes, subject: Subject) -> str:
    """A keyed hash of the subject for the audit log: an admin who knows the id can show that
    it was erased; the log alone names nobody."""
    message = f"{subject.channel}:{subject.sender_id}".encode()
    return "subject:" + hmac.new(secret, message, hashlib.sha256).hexdigest()[:32]


def export(session: Session, registry: Registry, subject: Subject, *, actor: str,
           secret: bytes) -> dict:
    """Every holder's records about the subject; audited (counts only). The caller commits."""
    holders, skipped = registry.bind(session, actor)
    data = {h.name: h.export(subject) for h in holders}
    audit(session, actor=actor, action="privacy.export", target=subject_ref(secret, subject),
          details={"channel": subject.channel, "skipped": skipped,
                   "counts": {name: len(records) for name, records in data.items()}})
    return {"channel": subject.channel, "sender_id": subject.sender_id,
            "exported_at": utcnow(), "covered": list(data), "skipped": skipped, "data": data}


def erase(session: Session, registry: Registry, subject: Subject, *, actor: str,
          secret: bytes) -> dict:
    """Erase the subject from every holder, in order; audited (counts only). The caller
    commits."""
    if session.get_bind().dialect.name == "sqlite":
        # this connection overwrites what it deletes instead of leaving it in free pages
        session.execute(text("PRAGMA secure_delete=ON"))
    holders, skipped = registry.bind(session, actor)
    counts = {h.name: h.erase(subject) for h in holders}
    audit(session, actor=actor, action="privacy.erase", target=subject_ref(secret, subject),
          details={"channel": subject.channel, "skipped": skipped, "counts": counts})
    return {"channel": subject.channel, "erased_at": utcnow(), "covered": list(counts),
            "skipped": skipped, "erased": counts}
