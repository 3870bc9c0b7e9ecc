"""The gateway's tables: inbound events, what it knows of each citizen, each platform's state."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from feedback_api.db import Base, UTCDateTime, utcnow


class ChannelEvent(Base):
    """An inbound event, stored before the webhook is acknowledged."""

    __tablename__ = "channel_event"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    platform: Mapped[str] = mapped_column(String(16))
    event_key: Mapped[str] = mapped_column(String(200))  # the platform's message id
    user_id: Mapped[str] = mapped_column(String(200))
    # Inbound.as_json(): kind, text, location, attachments (personal data: erased with the user)
    body: Mapped[dict] = mapped_column(JSON)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)  # platform's
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # "pending" -> "done"; "dead" when it can never be handled (reason in last_error)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    __table_args__ = (
        UniqueConstraint("platform", "event_key", name="uq_channel_event_key"),
        Index("ix_channel_event_due", "status", "next_attempt_at"),
        Index("ix_channel_event_user", "platform", "user_id", "status"),
    )


class ChannelUser(Base):
    """A citizen on a platform: the messaging window, the per-user lease, their preferences."""

    __tablename__ = "channel_user"

    platform: Mapped[str] = mapped_column(String(16), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    # the citizen's last message or tap: the platforms' windows count from it
    last_inbound_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # one dispatcher at a time handles this citizen's events (fenced by the token)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    lease_token: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # digit -> payload of the last numbered choices shown
    choices: Mapped[dict] = mapped_column(JSON, default=dict)
    # photos sent while writing feedback: attached to the next item they file (then emptied)
    pending_attachments: Mapped[list] = mapped_column(JSON, default=list)
    # "dừng thông báo": no status notices (officials' replies still come)
    notices_off: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ChannelState(Base):
    """One row per platform: tokens (Zalo), the refresh lease, what operators need to see."""

    __tablename__ = "channel_state"

    platform: Mapped[str] = mapped_column(String(16), primary_key=True)
    access_token: Mapped[str | None] = mapped_column(Text, nullable=True)
    refresh_token: Mapped[str | None] = mapped_column(Text, nullable=True)
    token_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    token_version: Mapped[int] = mapped_column(Integer, default=0)
    # sha256 of the refresh token given in the environment: a new one given by the operator
    # (access granted again) replaces the stored pair
    seed_fingerprint: Mapped[str | None] = mapped_column(String(64), nullable=True)
    refresh_lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_event_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_send_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # an operator must act (e.g. Messenger error 190, a refused Zalo refresh); cleared by a
    # later success
    alert: Mapped[str | None] = mapped_column(Text, nullable=True)
    alert_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class ChannelDelivery(Base):
    """Each part of an outbox message a platform accepted: a retry skips what was sent."""

    __tablename__ = "channel_delivery"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    outbox_id: Mapped[int] = mapped_column(Integer)
    part: Mapped[int] = mapped_column(Integer)
    platform_message_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (UniqueConstraint("outbox_id", "part", name="uq_channel_delivery_part"),)
