"""Departments (stable codes) and their policy-communication liaisons."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from feedback_api.db import Base, UTCDateTime, utcnow


class Department(Base):
    __tablename__ = "department"

    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    mandate: Mapped[str] = mapped_column(Text, default="")
    webhook_url: Mapped[str | None] = mapped_column(String(500), nullable=True)
    # The webhook secret is derived from this counter (departments/webhooks.py), never stored;
    # 0 means no secret yet.
    webhook_secret_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    liaisons: Mapped[list[Liaison]] = relationship(
        back_populates="department", order_by="Liaison.id", lazy="selectin"
    )


class Liaison(Base):
    """A named contact of a department; the first active one is notified."""

    __tablename__ = "liaison"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    department_code: Mapped[str] = mapped_column(ForeignKey("department.code"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(320), default="")
    zalo_user_id: Mapped[str] = mapped_column(String(100), default="")
    phone: Mapped[str] = mapped_column(String(30), default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    department: Mapped[Department] = relationship(back_populates="liaisons")
