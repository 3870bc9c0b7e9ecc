"""Retrieval quality and latency: BM25 alone, dense alone, hybrid, on every question set.

.venv/bin/python benchmarks/retrieval.py
"""

from __future__ import annotations

import statistics

from common import mrr_interval, per_question, question_sets, save, table

from knowledge.evaluate import percentile
from knowledge.search import Searcher


def summarise(name: str, mode: str, rows: list[dict]) -> dict:
    rrs = [r["rr"] for r in rows]
    low, high = mrr_interval(rrs)
    n = len(rows)
    return {
        "set": name,
        "mode": mode,
        "n": n,
        "mrr@10": f"{sum(rrs) / n:.3f}",
        "95% CI": f"{low:.2f}–{high:.2f}",
        **{f"R@{k}": f"{sum(r['recall'][k] for r in rows) / n:.3f}" for k in (1, 5, 10)},
        "p50 ms": f"{statistics.median(r['ms'] for r in rows):.1f}",
        "p95 ms": f"{percentile([r['ms'] for r in rows], 95):.1f}",
    }


def main() -> None:
    searcher = Searcher()
    searcher.search("khởi động", 1)  # first call loads lazy parts; not measured
    results = []
    for name, questions in question_sets().items():
        for mode in ("bm25", "dense", "hybrid"):
            results.append(summarise(name, mode, per_question(searcher, questions, mode=mode)))
    cols = ["set", "mode", "n", "mrr@10", "95% CI", "R@1", "R@5", "R@10", "p50 ms", "p95 ms"]
    print(table(results, cols))
    save("retrieval", results)


if __name__ == "__main__":
    main()
