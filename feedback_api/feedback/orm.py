"""Feedback items and their audit trail."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from feedback_api.db import Base, UTCDateTime, utcnow


class FeedbackItem(Base):
    __tablename__ = "feedback_item"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tracking_code: Mapped[str] = mapped_column(String(16), unique=True)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(16))  # complaint | proposal | question
    text: Mapped[str] = mapped_column(Text)
    channel: Mapped[str] = mapped_column(String(16))
    sender_id: Mapped[str | None] = mapped_column(String(200), nullable=True, index=True)
    location: Mapped[str | None] = mapped_column(String(200), nullable=True)
    location_key: Mapped[str | None] = mapped_column(String(200), nullable=True, index=True)
    citations: Mapped[list] = mapped_column(JSON, default=list)
    attachments: Mapped[list] = mapped_column(JSON, default=list)
    department_code: Mapped[str | None] = mapped_column(
        ForeignKey("department.code"), nullable=True
    )
    status: Mapped[str] = mapped_column(String(16), default="new")
    priority: Mapped[str] = mapped_column(String(8), default="normal")
    formal_complaint: Mapped[bool] = mapped_column(Boolean, default=False)
    needs_routing: Mapped[bool] = mapped_column(Boolean, default=False)
    routing_confidence: Mapped[float | None] = mapped_column(Float, nullable=True)
    routing_alternatives: Mapped[list] = mapped_column(JSON, default=list)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    contact_name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    contact_phone: Mapped[str | None] = mapped_column(String(30), nullable=True)
    contact_consent: Mapped[bool] = mapped_column(Boolean, default=False)
    public_reply: Mapped[str | None] = mapped_column(Text, nullable=True)
    merged_into_id: Mapped[int | None] = mapped_column(
        ForeignKey("feedback_item.id"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    routed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    events: Mapped[list[FeedbackEvent]] = relationship(
        back_populates="item", order_by="FeedbackEvent.id", lazy="selectin"
    )

    __table_args__ = (
        Index("ix_feedback_inbox", "department_code", "status", "created_at"),
        Index("ix_feedback_status_due", "status", "due_at"),
    )


class FeedbackEvent(Base):
    """One change to an item: who, when, what, why. Never deleted; updated only by erasure of
    personal data (privacy/), which cuts identifiers out of its texts and blanks replies."""

    __tablename__ = "feedback_event"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("feedback_item.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor: Mapped[str] = mapped_column(String(120))
    # created | routed | rerouted | status | reply | note | merged | escalated | erased | updated
    action: Mapped[str] = mapped_column(String(16))
    from_value: Mapped[str | None] = mapped_column(String(200), nullable=True)
    to_value: Mapped[str | None] = mapped_column(String(200), nullable=True)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    # Notes and replies are internal/public text; "public" marks what the citizen may see.
    public: Mapped[bool] = mapped_column(Boolean, default=False)

    item: Mapped[FeedbackItem] = relationship(back_populates="events")
