"""The outbox table: every side effect is a row written in the same transaction as its cause."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from feedback_api.db import Base, UTCDateTime, utcnow


class OutboxMessage(Base):
    __tablename__ = "outbox_message"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # "email", "webhook", "citizen_reply"
    kind: Mapped[str] = mapped_column(String(32))
    # The same logical message is never enqueued twice (e.g. "routed:PA-7K3M9Q:3").
    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True)
    payload: Mapped[dict] = mapped_column(JSON)
    # "pending" -> "sending" (leased by a worker) -> "sent"; "dead" after the last attempt.
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    leased_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    __table_args__ = (Index("ix_outbox_due", "status", "next_attempt_at"),)


class CitizenMessage(Base):
    """A reply delivered to a citizen on the web/API channel, where the web chat fetches it."""

    __tablename__ = "citizen_message"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(32))
    sender_id: Mapped[str] = mapped_column(String(200), index=True)
    tracking_code: Mapped[str | None] = mapped_column(String(16), nullable=True)
    text: Mapped[str] = mapped_column(Text)
    outbox_id: Mapped[int] = mapped_column(Integer, unique=True)  # at most once per message
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
