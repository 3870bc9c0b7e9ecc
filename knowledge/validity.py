"""Legal validity of a cited text on a given day, and the one line a citizen reads about it.

A document's metadata (``corpus/law_metadata.json`` for the national laws, ``metadata.json``
or a sidecar for the province's own documents) gives its number, effective date, status,
``expires`` (the first day it no longer applies, e.g. the day a new law replaces it),
``replaced_by`` and a short ``note`` on known gaps. The status a citizen sees is worked out
on the day of the question, so a law whose replacement takes effect next March stops being
cited as in force that morning, with no rebuild.

Standard library only: the API, the benchmarks and the tests use it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

IN_FORCE, EXPIRED, NOT_YET, DRAFT = "in_force", "expired", "not_yet", "draft"
LABELS = {IN_FORCE: "Còn hiệu lực", EXPIRED: "Hết hiệu lực", NOT_YET: "Chưa có hiệu lực",
          DRAFT: "Dự thảo"}


def _day(iso: str | None) -> date | None:
    try:
        return date.fromisoformat(iso) if iso else None
    except ValueError:
        return None


def vn_date(iso: str | None) -> str:
    """"2027-03-01" -> "01/03/2027" (as given when it is not an ISO date)."""
    day = _day(iso)
    return day.strftime("%d/%m/%Y") if day else (iso or "")


@dataclass(frozen=True)
class Validity:
    status: str  # in_force | expired | not_yet | draft, on the day asked
    line: str | None  # one short Vietnamese sentence, or None when there is nothing to say

    @property
    def label(self) -> str:
        return LABELS.get(self.status, self.status)

    def to_dict(self) -> dict:
        """What the search API and a hit's dict say of it."""
        return {"status": self.status, "label": self.label, "line": self.line}

    @property
    def usable(self) -> bool:
        """Whether the text may be the basis of a confident answer: anything but an expired
        text (a draft or a law not yet in force is quoted as such, with its line)."""
        return self.status != EXPIRED


def validity(
    *,
    status: str = IN_FORCE,
    effective: str | None = None,
    expires: str | None = None,
    replaced_by: str | None = None,
    note: str | None = None,
    today: date | None = None,
) -> Validity:
    """The status of a text on ``today`` and the line that tells a citizen what to know."""
    today = today or date.today()
    starts, ends = _day(effective), _day(expires)
    parts: list[str] = []
    if status == DRAFT:
        now = DRAFT
        parts.append("Đây là dự thảo, chưa có hiệu lực.")
    elif status == EXPIRED or (ends is not None and ends <= today):
        now = EXPIRED
        since = f" từ {vn_date(expires)}" if ends else ""
        instead = f", thay bằng {replaced_by}" if replaced_by else ""
        parts.append(f"Văn bản này đã hết hiệu lực{since}{instead}.")
    elif starts is not None and starts > today:
        now = NOT_YET
        parts.append(f"Văn bản này có hiệu lực từ {vn_date(effective)}.")
    else:
        now = IN_FORCE
        if ends is not None:
            instead = f"; sau đó áp dụng {replaced_by}" if replaced_by else ""
            parts.append(f"Văn bản này áp dụng đến hết {vn_date_before(expires)}{instead}.")
    if note and now != EXPIRED:
        parts.append(note)
    return Validity(now, " ".join(parts) or None)


def vn_date_before(iso: str | None) -> str:
    """The last day a text applies, given the first day it does not."""
    day = _day(iso)
    if day is None:
        return iso or ""
    return date.fromordinal(day.toordinal() - 1).strftime("%d/%m/%Y")


def of(passage, today: date | None = None) -> Validity:
    """The validity of a passage (or anything with the same attributes) on ``today``."""
    return validity(status=passage.status, effective=getattr(passage, "effective", None),
                    expires=getattr(passage, "expires", None),
                    replaced_by=getattr(passage, "replaced_by", None),
                    note=getattr(passage, "note", None), today=today)


def source_label(number: str | None, effective: str | None) -> str | None:
    """"số 31/2024/QH15, hiệu lực từ 01/08/2024" for a citation, or None."""
    parts = []
    if number:
        parts.append(number if not number[:1].isdigit() else f"số {number}")
    if effective:
        parts.append(f"hiệu lực từ {vn_date(effective)}")
    return ", ".join(parts) or None
