"""Retrieval quality on question files shaped like questions-dev.json.

A hit is any returned passage of a gold article; recall is the fraction of a
question's gold articles found in the top k; MRR@10 uses the first gold hit.
"""

from __future__ import annotations

import json
import math
import statistics
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

Gold = set[tuple[str, str]]


@dataclass(frozen=True)
class Question:
    qid: str
    text: str
    gold: frozenset[tuple[str, str]]


class QuestionFileError(ValueError):
    """The question file is not shaped like questions-dev.json."""


def _question(i: int, row: object) -> Question:
    if not isinstance(row, dict) or not isinstance(row.get("text"), str):
        raise TypeError(f'mục {i} phải là đối tượng có trường "text" kiểu chuỗi')
    gold = row.get("relevant", [])
    if not isinstance(gold, list):
        raise TypeError(f'mục {i}: "relevant" phải là danh sách')
    pairs = frozenset((str(g["law_id"]), str(g["article_id"])) for g in gold)
    return Question(str(row.get("id", i)), row["text"], pairs)


def load_questions(path: Path) -> list[Question]:
    """Read ``[{"id", "text", "relevant": [{"law_id", "article_id"}]}]``."""
    try:
        rows = json.loads(Path(path).read_text(encoding="utf-8"))
        if not isinstance(rows, list):
            raise TypeError("tệp phải là một danh sách câu hỏi […]")
        return [_question(i, row) for i, row in enumerate(rows)]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise QuestionFileError(f"Không đọc được tệp câu hỏi {path}: {exc}") from exc


@dataclass(frozen=True)
class Report:
    n: int
    recall: dict[int, float]
    mrr10: float
    p50_ms: float
    p95_ms: float

    def to_dict(self) -> dict:
        out = {f"recall@{k}": round(v, 4) for k, v in self.recall.items()}
        return {
            **out,
            "mrr@10": round(self.mrr10, 4),
            "p50_ms": round(self.p50_ms, 2),
            "p95_ms": round(self.p95_ms, 2),
            "n": self.n,
        }


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100); 0.0 for an empty sequence."""
    ordered = sorted(values)
    if not ordered:
        return 0.0
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def score_ranking(
    ranked: Sequence[tuple[str, str]], gold: Gold, ks: Iterable[int]
) -> tuple[dict[int, float], float]:
    """Recall at each k and reciprocal rank (within 10) of one ranked article list."""
    recall = {k: len(gold & set(ranked[:k])) / len(gold) for k in ks}
    rr = next((1.0 / (i + 1) for i, a in enumerate(ranked[:10]) if a in gold), 0.0)
    return recall, rr


def evaluate(
    questions: Sequence[Question],
    rank: Callable[[str, int], list[tuple[str, str]]],
    *,
    k: int = 10,
    progress: bool = False,
) -> Report:
    """Run ``rank(text, k)`` -> [(law_id, article_id), ...] over answerable questions.

    ``k`` is the retrieval depth: recall@10 with ``k=5`` only sees five results.
    """
    ks = sorted({1, 5, 10, k})
    scored = [q for q in questions if q.gold]
    if not scored:
        raise QuestionFileError("Tệp câu hỏi không có câu nào kèm điều luật đúng (relevant).")
    totals = {kk: 0.0 for kk in ks}
    mrr, latencies = 0.0, []
    for q in tqdm(scored, desc="Đánh giá", unit="câu", disable=not progress):
        start = time.perf_counter()
        ranked = rank(q.text, k)
        latencies.append((time.perf_counter() - start) * 1000)
        recall, rr = score_ranking(ranked, set(q.gold), ks)
        for kk in ks:
            totals[kk] += recall[kk]
        mrr += rr
    n = len(scored)
    return Report(
        n,
        {kk: v / n for kk, v in totals.items()},
        mrr / n,
        statistics.median(latencies),
        percentile(latencies, 95),
    )
