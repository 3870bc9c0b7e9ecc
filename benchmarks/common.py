"""Shared helpers for the benchmarks (run from the repo root: ``.venv/bin/python -m
benchmarks.<concern>.<name>``): question sets, tables, results files."""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

from knowledge import Question, load_questions, score_ranking
from vietnamese import fold

REPO = Path(__file__).resolve().parent.parent

SHARED = REPO.parent / "shared" / "data" / "legal"
DATA = REPO / "benchmarks" / "data"
RESULTS = REPO / "benchmarks" / "results"

QUESTION_SETS = {
    "alqac-dev": SHARED / "questions-dev.json",
    "colloquial": DATA / "colloquial-dev.json",
    # everyday questions on the 13 laws of ../shared/data/legal-extra (issue 21)
    "everyday": DATA / "everyday-dev.json",
}
# Written after the search was frozen (2026-12-06), by a writer who saw neither the sample
# questions nor the sets above: reported, never tuned or calibrated on.
TEST_SETS = {"colloquial-test": DATA / "colloquial-test.json"}


def question_sets(*, test: bool = True) -> dict[str, list[Question]]:
    """Each set as written and with its diacritics stripped; ``test=False`` leaves out the
    test sets (what tuning may look at)."""
    sets: dict[str, list[Question]] = {}
    for name, path in {**QUESTION_SETS, **(TEST_SETS if test else {})}.items():
        if not path.exists():
            print(f"(bỏ qua {name}: không thấy {path})", file=sys.stderr)
            continue
        qs = load_questions(path)
        sets[name] = qs
        sets[f"{name} (không dấu)"] = [Question(q.qid, fold(q.text), q.gold) for q in qs]
    return sets


def mrr_interval(rrs: list[float], *, rounds: int = 1000, seed: int = 7) -> tuple[float, float]:
    """95% bootstrap interval of the mean reciprocal rank."""
    rng = random.Random(seed)
    means = sorted(sum(rng.choices(rrs, k=len(rrs))) / len(rrs) for _ in range(rounds))
    return means[int(0.025 * rounds)], means[int(0.975 * rounds) - 1]


def table(rows: list[dict], columns: list[str]) -> str:
    """A plain-text table with aligned columns."""
    cells = [[str(r.get(c, "")) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    line = lambda vals: "  ".join(v.ljust(w) for v, w in zip(vals, widths))  # noqa: E731
    return "\n".join([line(columns), line(["-" * w for w in widths])] + [line(r) for r in cells])


def publish(name: str, rows: list[dict]) -> None:
    """Print rows as a table (columns from the first row) and save them as results/NAME.json."""
    print(table(rows, list(rows[0])))
    save(name, rows)


def save(name: str, data: object) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n")
    return path


def per_question(rank, questions: list[Question], *, k: int = 10):
    """Reciprocal ranks, recalls and latencies of every question; ``rank(text, k)`` gives the
    (law_id, article_id) of its hits, best first (``benchmarks/search/modes.py``)."""
    import time

    rows = []
    for q in questions:
        start = time.perf_counter()
        ranked = rank(q.text, k)
        ms = (time.perf_counter() - start) * 1000
        recall, rr = score_ranking(ranked, set(q.gold), (1, 5, 10))
        rows.append({"rr": rr, "recall": recall, "ms": ms})
    return rows
