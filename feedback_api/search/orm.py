"""Officials' corrections to a document's legal validity (number, dates, status, note).

The index carries each document's metadata as built (``knowledge/corpus/law_metadata.json``,
documents' metadata files); a row here overrides it field by field at once, in every API
process, with no rebuild: the day an official learns that a law was replaced, citizens are told.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from feedback_api.db import Base, UTCDateTime, utcnow

FIELDS = ("number", "effective", "status", "expires", "replaced_by", "note")


class LawValidity(Base):
    __tablename__ = "law_validity"

    doc_id: Mapped[str] = mapped_column(String(300), primary_key=True)
    number: Mapped[str | None] = mapped_column(String(100), nullable=True)
    effective: Mapped[str | None] = mapped_column(String(10), nullable=True)  # ISO date
    status: Mapped[str | None] = mapped_column(String(16), nullable=True)  # in_force|expired|draft
    expires: Mapped[str | None] = mapped_column(String(10), nullable=True)  # first day not applying
    replaced_by: Mapped[str | None] = mapped_column(String(300), nullable=True)
    note: Mapped[str | None] = mapped_column(String(300), nullable=True)
    updated_by: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
