"""Sample questions: how citizens ask what an article answers.

Statutes say "đăng ký thường trú"; a resident of Lào Cai types "vk e mới cưới, muốn nhập khẩu
về nhà ck thì làm ntn". Each article can carry a few questions written the way residents ask
(``knowledge/corpus/samples/*.jsonl``: ``{"doc_id", "article_id", "questions": [...]}``, one
line per article). The index keeps them beside the passages, read as the search reads a query
(chat spellings spelled out), encoded as e5 queries and indexed for BM25, so a question that
shares few words with the statute can still meet its article through a sample asked in
everyday words. An article without samples is found by its text alone, as before.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from vietnamese import normalize

MAX_QUESTION_CHARS = 500  # a sample is one chat message, not a document


@dataclass(frozen=True)
class Sample:
    """One sample question and the article it is answered by."""

    doc_id: str
    article_id: str
    text: str

    @property
    def article(self) -> tuple[str, str]:
        return (self.doc_id, self.article_id)


class SampleError(ValueError):
    """A line of a samples file cannot be read; the message is Vietnamese for officials."""


def read_file(path: Path) -> tuple[list[Sample], list[SampleError]]:
    """The samples of one ``.jsonl`` file; a bad line is reported and skipped."""
    samples: list[Sample] = []
    errors: list[SampleError] = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        return [], [SampleError(f"{path.name}: không đọc được tệp câu hỏi mẫu ({exc}).")]
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            samples.extend(_row(json.loads(line)))
        except (json.JSONDecodeError, SampleError) as exc:
            errors.append(SampleError(f"{path.name}, dòng {number}: {_reason(exc)}"))
    return samples, errors


def _reason(exc: Exception) -> str:
    return "không phải JSON hợp lệ." if isinstance(exc, json.JSONDecodeError) else str(exc)


def _row(row: object) -> list[Sample]:
    if not isinstance(row, dict):
        raise SampleError("mỗi dòng phải là một đối tượng JSON.")
    doc_id, article_id, questions = row.get("doc_id"), row.get("article_id"), row.get("questions")
    if not isinstance(doc_id, str) or not doc_id.strip():
        raise SampleError("thiếu “doc_id” (mã văn bản).")
    if isinstance(article_id, bool) or not isinstance(article_id, str | int) \
            or not str(article_id).strip():
        raise SampleError("thiếu “article_id” (số điều).")
    if not isinstance(questions, list) or not all(isinstance(q, str) for q in questions):
        raise SampleError("“questions” phải là danh sách câu hỏi.")
    texts = [normalize(q) for q in questions]
    if any(len(t) > MAX_QUESTION_CHARS for t in texts):
        raise SampleError(f"có câu hỏi dài quá {MAX_QUESTION_CHARS} ký tự.")
    doc_id, article_id = normalize(doc_id), normalize(str(article_id))
    return [Sample(doc_id, article_id, t) for t in texts if t]


def load(folders: Iterable[Path]) -> tuple[list[Sample], list[SampleError]]:
    """Every sample of the ``*.jsonl`` files in the folders (sorted by name), without
    repeats of the same question for the same article."""
    samples: list[Sample] = []
    errors: list[SampleError] = []
    for folder in folders:
        if not folder.is_dir():
            continue
        for path in sorted(folder.glob("*.jsonl")):
            found, failed = read_file(path)
            samples.extend(found)
            errors.extend(failed)
    return list(dict.fromkeys(samples)), errors


def for_articles(
    samples: Sequence[Sample], articles: Collection[tuple[str, str]]
) -> tuple[list[Sample], list[str]]:
    """The samples whose article is indexed, and notes on the others: one per indexed document
    whose samples name an article it does not have (a typo worth fixing), one for all the
    documents that are not indexed at all."""
    kept = [s for s in samples if s.article in articles]
    documents = {doc for doc, _ in articles}
    wrong_article: dict[str, int] = {}
    no_document: dict[str, int] = {}
    for s in samples:
        if s.article not in articles:
            counts = wrong_article if s.doc_id in documents else no_document
            counts[s.doc_id] = counts.get(s.doc_id, 0) + 1
    notes = [
        f"{n} câu hỏi mẫu của “{doc}” chỉ tới điều không có trong văn bản: bỏ qua."
        for doc, n in sorted(wrong_article.items())
    ]
    if no_document:
        names = ", ".join(f"“{d}”" for d in sorted(no_document)[:3])
        more = f" và {len(no_document) - 3} văn bản khác" if len(no_document) > 3 else ""
        notes.append(f"{sum(no_document.values())} câu hỏi mẫu của văn bản không có trong chỉ "
                     f"mục ({names}{more}): bỏ qua.")
    return kept, notes
