"""Whole articles, put back together from the search index's passages (for "read more").

The index splits long articles into passages of about 200 words, by clause; each passage
knows its law (``doc_id``), article and clause range, and its position in the article (the
number after the last "-" of ``passage_id``). Nothing else stores article text, so the
searcher loaded in the API is the source.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from dataclasses import dataclass

from knowledge import validity


@dataclass(frozen=True)
class ArticleSection:
    clauses: str | None  # "2" or "1-3"; None for an article kept in one passage
    text: str


@dataclass(frozen=True)
class Article:
    law_id: str
    law_title: str
    article_id: str
    article_title: str
    department: str | None
    status: str  # as the document's metadata says; ``validity`` says what it is today
    source_url: str | None
    sections: tuple[ArticleSection, ...]
    number: str | None = None
    effective: str | None = None
    expires: str | None = None
    replaced_by: str | None = None
    note: str | None = None

    @property
    def citation(self) -> str:
        return f"Điều {self.article_id} {self.law_title}"

    @property
    def text(self) -> str:
        return "\n".join(s.text for s in self.sections)

    @property
    def validity(self) -> validity.Validity:
        return validity.of(self)

    @property
    def status_label(self) -> str:
        return self.validity.label

    @property
    def source(self) -> str | None:
        """"số 31/2024/QH15, hiệu lực từ 01/08/2024"."""
        return validity.source_label(self.number, self.effective)


def _position(passage_id: str) -> int:
    tail = passage_id.rsplit("-", 1)[-1]
    return int(tail) if tail.isdigit() else 0


class ArticleIndex:
    """(law_id, article_id) -> Article, built from the searcher's passages on first use."""

    def __init__(self, searcher) -> None:
        self.searcher = searcher
        self._articles: dict[tuple[str, str], Article] | None = None
        self._lock = threading.Lock()

    def get(self, law_id: str, article_id: str) -> Article | None:
        return self._all().get((law_id, article_id))

    def _all(self) -> dict[tuple[str, str], Article]:
        with self._lock:
            if self._articles is None:
                self._articles = self._build()
            return self._articles

    def _build(self) -> dict[tuple[str, str], Article]:
        groups = defaultdict(list)
        for order, passage in enumerate(self.searcher.passages):
            groups[(passage.doc_id, passage.article_id)].append((order, passage))
        articles = {}
        for key, members in groups.items():
            members.sort(key=lambda pair: (_position(pair[1].passage_id), pair[0]))
            first = members[0][1]
            articles[key] = Article(
                law_id=first.doc_id, law_title=first.doc_title, article_id=first.article_id,
                article_title=first.article_title, department=first.department,
                status=first.status, source_url=first.source_url,
                sections=tuple(ArticleSection(p.clauses, p.text) for _, p in members),
                number=first.number, effective=first.effective, expires=first.expires,
                replaced_by=first.replaced_by, note=first.note,
            )
        return articles
