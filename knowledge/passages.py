"""Documents -> article-aware passages, each carrying its citation.

An article (Điều) short enough becomes one passage. A long article is split by
clause (khoản, paragraphs starting "1.", "2.", ...) into passages of about
``budget`` words; each passage repeats the document and article title so that
the dense model and BM25 both see what the clause is about.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass

from knowledge.documents import Article, Document
from vietnamese import normalize

DEFAULT_BUDGET = 200
_CLAUSE_START = re.compile(r"^(\d{1,3})\.\s")
_SENTENCE_END = re.compile(r"(?<=[.;:])\s+")


@dataclass(frozen=True)
class Passage:
    """One searchable unit of policy text and where it comes from."""

    passage_id: str
    doc_id: str
    doc_title: str
    article_id: str
    article_title: str
    clauses: str | None  # "2" or "1-3"; None for a whole article
    text: str  # the body of this passage, without headings
    department: str | None
    status: str
    source_url: str | None
    # the document's legal validity (knowledge/validity.py); None in an index built before them
    number: str | None = None
    effective: str | None = None
    expires: str | None = None
    replaced_by: str | None = None
    note: str | None = None

    @property
    def heading(self) -> str:
        return f"{self.doc_title} – Điều {self.article_id}. {self.article_title}"

    @property
    def index_text(self) -> str:
        """What the search indexes: heading (context) plus the body."""
        return f"{self.heading}\n{self.text}"

    @property
    def citation(self) -> str:
        """Human citation, e.g. "Điều 20 (khoản 1-2) Luật Cư trú 2020"."""
        clause = f" (khoản {self.clauses})" if self.clauses else ""
        return f"Điều {self.article_id}{clause} {self.doc_title}"

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, row: dict) -> Passage:
        """The passage of a ``to_dict`` row; other keys (an index row's ``key``) are ignored."""
        return cls(**{name: row[name] for name in cls.__dataclass_fields__ if name in row})


@dataclass(frozen=True)
class _Block:
    """A clause (or preamble) of an article body with its number, if any."""

    number: str | None
    text: str

    @property
    def n_words(self) -> int:
        return len(self.text.split())


def _blocks(body: str) -> list[_Block]:
    """Group an article body's paragraphs into clauses."""
    blocks: list[_Block] = []
    for para in (normalize(p) for p in body.split("\n")):
        if not para:
            continue
        match = _CLAUSE_START.match(para)
        if match or not blocks:
            blocks.append(_Block(match.group(1) if match else None, para))
        else:  # points a), b) and continuation paragraphs stay with their clause
            last = blocks[-1]
            blocks[-1] = _Block(last.number, f"{last.text}\n{para}")
    return blocks


def _split_long(block: _Block, budget: int) -> list[_Block]:
    """Cut one over-long clause at paragraph or sentence ends."""
    pieces = [p for line in block.text.split("\n") for p in _SENTENCE_END.split(line)]
    out: list[list[str]] = [[]]
    for piece in pieces:
        words = sum(len(p.split()) for p in out[-1])
        if out[-1] and words + len(piece.split()) > budget:
            out.append([])
        out[-1].append(piece)
    return [_Block(block.number, " ".join(chunk)) for chunk in out if chunk]


def _label(numbers: list[str | None]) -> str | None:
    known = [n for n in numbers if n]
    if not known:
        return None
    return known[0] if known[0] == known[-1] else f"{known[0]}-{known[-1]}"


def chunk_article(body: str, *, budget: int = DEFAULT_BUDGET) -> list[tuple[str | None, str]]:
    """Split an article body into (clause label, text) chunks of about ``budget`` words."""
    blocks = _blocks(body)
    if sum(b.n_words for b in blocks) <= budget * 1.3:
        return [(None, "\n".join(b.text for b in blocks))]
    chunks: list[list[_Block]] = [[]]
    for block in blocks:
        for part in _split_long(block, budget) if block.n_words > budget else [block]:
            size = sum(b.n_words for b in chunks[-1])
            if chunks[-1] and size + part.n_words > budget:
                chunks.append([])
            chunks[-1].append(part)
    return [(_label([b.number for b in c]), "\n".join(b.text for b in c)) for c in chunks if c]


def _passage_id(doc_id: str, article_id: str, index: int) -> str:
    digest = hashlib.sha1(f"{doc_id}\x00{article_id}".encode()).hexdigest()[:10]
    return f"{digest}-{index}"


def article_passages(doc: Document, article: Article, *, budget: int) -> Iterator[Passage]:
    """The passages of one article of one document."""
    title = normalize(article.title)
    for i, (clauses, text) in enumerate(chunk_article(article.text, budget=budget)):
        yield Passage(
            passage_id=_passage_id(doc.doc_id, article.id, i),
            doc_id=doc.doc_id,
            doc_title=normalize(doc.title),
            article_id=article.id,
            article_title=title,
            clauses=clauses,
            text=text,
            department=doc.department,
            status=doc.status,
            source_url=doc.source_url,
            number=doc.number,
            effective=doc.effective,
            expires=doc.expires,
            replaced_by=doc.replaced_by,
            note=doc.note,
        )


def passages(docs: Iterable[Document], *, budget: int = DEFAULT_BUDGET) -> list[Passage]:
    """All passages of the documents, in document and article order."""
    return [p for d in docs for a in d.articles for p in article_passages(d, a, budget=budget)]
