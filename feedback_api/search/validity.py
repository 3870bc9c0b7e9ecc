"""A cited text's legal validity as citizens are told it: the index's metadata, corrected by
officials (``law_validity`` rows, edited at /inbox/admin/laws) without a rebuild.

``knowledge.validity`` works out the status on the day of the question; this module only
merges the two sources, field by field (an official's value wins; an empty field keeps the
index's).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from feedback_api.search.orm import FIELDS, LawValidity
from knowledge import validity
from knowledge.documents.metadata import _parse_date, _parse_status
from knowledge.documents.model import DocumentError

log = logging.getLogger(__name__)


def overrides(session: Session, doc_ids: Iterable[str]) -> dict[str, LawValidity]:
    """The officials' corrections of these documents. A database that cannot answer costs the
    corrections, never the answer (logged)."""
    ids = sorted(set(doc_ids))
    if not ids:
        return {}
    try:
        rows = session.scalars(select(LawValidity).where(LawValidity.doc_id.in_(ids)))
        return {row.doc_id: row for row in rows}
    except SQLAlchemyError as exc:
        session.rollback()
        log.warning("law_validity unavailable, answering with the index's metadata: %s",
                    type(exc).__name__)
        return {}


def corrected(item, override: LawValidity | None):
    """``item`` (a passage or an article: a dataclass with the validity fields) with the
    official's values in place of its own."""
    if override is None:
        return item
    changes = {f: getattr(override, f) for f in FIELDS if getattr(override, f) is not None}
    return dataclasses.replace(item, **changes)


def usable(item) -> bool:
    return validity.of(item).usable


class ValidityUpdate(BaseModel):
    """What an official may set; empty text means "as the index says"."""

    model_config = ConfigDict(extra="forbid")
    number: str | None = Field(default=None, max_length=100)
    effective: str | None = Field(default=None, max_length=20)
    status: str | None = Field(default=None, max_length=30)
    expires: str | None = Field(default=None, max_length=20)
    replaced_by: str | None = Field(default=None, max_length=300)
    note: str | None = Field(default=None, max_length=300)

    @field_validator("*", mode="before")
    @classmethod
    def _blank_is_none(cls, v):
        if isinstance(v, str):
            v = " ".join(v.split())
        return v or None

    @field_validator("effective", "expires")
    @classmethod
    def _date(cls, v: str | None, info) -> str | None:
        if v is None:
            return None
        try:
            return _parse_date(v, info.field_name, "")
        except DocumentError as exc:
            raise ValueError(f"ngày “{v}” không hợp lệ (NN/TT/NNNN hoặc NNNN-TT-NN)") from exc

    @field_validator("status")
    @classmethod
    def _status(cls, v: str | None) -> str | None:
        if v is None:
            return None
        try:
            return _parse_status(v, "")
        except DocumentError as exc:
            raise ValueError("trạng thái phải là còn hiệu lực, hết hiệu lực hoặc dự thảo") from exc


def save(
    session: Session, doc_id: str, update: ValidityUpdate, *, actor: str
) -> LawValidity | None:
    """Store the official's corrections of one document (all fields empty: the row goes)."""
    row = session.get(LawValidity, doc_id)
    values = update.model_dump()
    if not any(values.values()):
        if row is not None:
            session.delete(row)
        return None
    if row is None:
        row = LawValidity(doc_id=doc_id, updated_by=actor)
        session.add(row)
    for key, value in values.items():
        setattr(row, key, value)
    row.updated_by = actor
    return row


@dataclasses.dataclass(frozen=True)
class DocumentValidity:
    """One indexed document as the admin page lists it."""

    doc_id: str
    title: str
    number: str | None
    effective: str | None
    status: str
    expires: str | None = None
    replaced_by: str | None = None
    note: str | None = None

    @property
    def today(self) -> validity.Validity:
        return validity.of(self)


def documents(searcher) -> list[DocumentValidity]:
    """Every document of the loaded index with the metadata it was built with, by title."""
    seen: dict[str, DocumentValidity] = {}
    for p in searcher.passages:
        if p.doc_id not in seen:
            seen[p.doc_id] = DocumentValidity(p.doc_id, p.doc_title, p.number, p.effective,
                                              p.status, p.expires, p.replaced_by, p.note)
    return sorted(seen.values(), key=lambda d: d.title)

