"""The search as shipped on every question set, for one index: does it find the article, and
does its ``confident`` flag tell answered questions from questions the corpus does not cover?

For each set, as written and without diacritics: MRR@10, R@1 and R@10 (questions with gold),
the share flagged confident, and the precision of that flag (the first hit is a gold
article). Sets without gold (out of scope, out of coverage) count every confident flag as a
false alarm. ``--index`` measures another index folder (e.g. one built with only the 21 laws:
the "before" of issue 21), ``--calibration`` another calibration file.

    .venv/bin/python -m benchmarks.search.coverage [--index DIR] [--calibration FILE] [--name N]

The sets of ``../shared/data/eval/`` are reported here and never tuned or calibrated on.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from benchmarks.common import DATA, REPO, mrr_interval, save, table
from knowledge import DEFAULT_INDEX, Question, Searcher, load_questions, percentile, score_ranking
from knowledge.fuse import Calibration
from vietnamese import fold

EVAL = REPO.parent / "shared" / "data" / "eval"
SETS = {
    "alqac-dev": REPO.parent / "shared" / "data" / "legal" / "questions-dev.json",
    "colloquial": DATA / "colloquial-dev.json",
    "colloquial-test": DATA / "colloquial-test.json",
    "everyday": DATA / "everyday-dev.json",
    "eval: alqac-test": EVAL / "alqac-test.json",
    "eval: external": EVAL / "external-questions.json",
    "out-of-scope": DATA / "out-of-scope.json",
    "out-of-coverage": DATA / "out-of-coverage-dev.json",
    "out-of-coverage-test": DATA / "out-of-coverage-test.json",
}


def measure(searcher: Searcher, name: str, questions: list[Question]) -> dict:
    rrs, r1, r10, ms = [], 0.0, 0.0, []
    confident = right_confident = 0
    for q in questions:
        start = time.perf_counter()
        result = searcher.search(q.text, 10)
        ms.append((time.perf_counter() - start) * 1000)
        ranked = [(h.passage.doc_id, h.passage.article_id) for h in result.hits]
        confident += result.confident
        if q.gold:
            recall, rr = score_ranking(ranked, q.gold, (1, 10))
            rrs.append(rr)
            r1 += recall[1]
            r10 += recall[10]
            right_confident += bool(result.confident and ranked and ranked[0] in q.gold)
    n = len(questions)
    row = {"set": name, "n": n, "mrr@10": "–", "95% CI": "–", "R@1": "–", "R@10": "–"}
    if rrs:
        low, high = mrr_interval(rrs)
        row.update({"mrr@10": f"{sum(rrs) / len(rrs):.3f}", "95% CI": f"{low:.2f}–{high:.2f}",
                    "R@1": f"{r1 / len(rrs):.3f}", "R@10": f"{r10 / len(rrs):.3f}"})
    row["confident"] = f"{confident / n:.2f}"
    row["precision when confident"] = (
        f"{right_confident / confident:.2f}" if confident and rrs else "–")
    row["p50 ms"] = f"{statistics.median(ms):.1f}"
    row["p95 ms"] = f"{percentile(ms, 95):.1f}"
    return row


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", type=Path, default=DEFAULT_INDEX)
    parser.add_argument("--calibration", type=Path, default=None)
    parser.add_argument("--name", default="coverage", help="results/NAME.json")
    args = parser.parse_args(argv)
    calibration = Calibration.load(args.calibration) if args.calibration else None
    searcher = Searcher(args.index, calibration=calibration)
    searcher.search("khởi động", 1)  # first call loads lazy parts; not measured
    rows = []
    for name, path in SETS.items():
        if not path.exists():
            print(f"(bỏ qua {name}: không thấy {path})")
            continue
        qs = load_questions(path)
        rows.append(measure(searcher, name, qs))
        rows.append(measure(searcher, f"{name} (không dấu)",
                            [Question(q.qid, fold(q.text), q.gold) for q in qs]))
        print(table(rows[-2:], list(rows[0])), flush=True)
    print()
    print(table(rows, list(rows[0])))
    save(args.name, {"index": str(args.index), "documents": len({p.doc_id for p in
                                                                 searcher.passages}),
                     "rows": rows})


if __name__ == "__main__":
    main()
