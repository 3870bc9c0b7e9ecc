"""Possible duplicates of an item, to suggest when merging: cheap word overlap, no model.

Words are folded (no diacritics, lower case) so "đường" and "duong" match; common function
words are dropped. Candidates are the most recent open items of the same department.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from feedback_api.feedback import lifecycle
from feedback_api.feedback.orm import FeedbackItem
from vietnamese import fold

CANDIDATES = 300
_WORD = re.compile(r"[a-z0-9]+")
STOPWORDS = frozenset(
    "va la cua co cho o tai thi ma nhung cac mot nhu de khi da dang se bi duoc toi chung "
    "em anh chi ong ba ban nay do voi tu den trong ngoai tren duoi ra vao khong chua rat "
    "cung con lai nen vi neu hay hoac xin de nghi kinh gui ve theo nhieu it".split()
)


@dataclass(frozen=True)
class Similar:
    tracking_code: str
    status: str
    text: str
    score: float


def terms(text: str) -> set[str]:
    """Folded content words and adjacent word pairs (Vietnamese meaning lives in syllable pairs)."""
    words = [w for w in _WORD.findall(fold(text)) if w not in STOPWORDS]
    pairs = {f"{a}_{b}" for a, b in zip(words, words[1:])}
    return set(words) | pairs


def overlap(a: set[str], b: set[str]) -> float:
    """Overlap coefficient: shared terms over the smaller set (short reports still match)."""
    if not a or not b:
        return 0.0
    return len(a & b) / min(len(a), len(b))


def similar_items(
    session: Session, *, item: FeedbackItem, limit: int = 5, threshold: float = 0.3
) -> list[Similar]:
    """Open items in the item's department that look like the same report, best first."""
    query = (
        select(FeedbackItem.tracking_code, FeedbackItem.status, FeedbackItem.text)
        .where(FeedbackItem.id != item.id,
               FeedbackItem.status.in_((*lifecycle.OPEN, "answered")),
               FeedbackItem.department_code == item.department_code
               if item.department_code else FeedbackItem.department_code.is_(None))
        .order_by(FeedbackItem.created_at.desc())
        .limit(CANDIDATES)
    )
    mine = terms(item.text)
    scored = [
        Similar(code, status, text, round(overlap(mine, terms(text)), 2))
        for code, status, text in session.execute(query)
    ]
    scored = [s for s in scored if s.score >= threshold]
    scored.sort(key=lambda s: s.score, reverse=True)
    return scored[:limit]
