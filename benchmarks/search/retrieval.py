"""Retrieval quality and latency on every question set: BM25 alone, passage vectors alone,
the sample questions alone (their vectors and BM25), the hybrid without the sample questions
(the search before they came), and the hybrid as shipped.

.venv/bin/python -m benchmarks.search.retrieval
"""

from __future__ import annotations

import statistics
from dataclasses import replace

from benchmarks.common import mrr_interval, per_question, question_sets, save, table
from benchmarks.search.modes import bm25_alone, dense_alone, hybrid
from knowledge import Searcher, Tuning, Weights, percentile

# Variants of the hybrid, as fusion settings: both kinds of question get the same weights.
SAMPLES_ONLY = Weights(dense=0.0, title=0.0, sample=2 / 3, sample_bm25=1 / 3)
VARIANTS = {
    "samples": replace(Tuning(), statute=SAMPLES_ONLY, citizen=SAMPLES_ONLY),
    "hybrid, no samples": replace(Tuning(), citizen=Tuning().statute),
    "hybrid": Tuning(),
}


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
        for mode, alone in (("bm25", bm25_alone), ("dense", dense_alone)):
            results.append(summarise(name, mode, per_question(alone(searcher), questions)))
        for variant, tuning in VARIANTS.items():
            searcher.tuning = tuning
            results.append(summarise(name, variant, per_question(hybrid(searcher), questions)))
    cols = ["set", "mode", "n", "mrr@10", "95% CI", "R@1", "R@5", "R@10", "p50 ms", "p95 ms"]
    print(table(results, cols))
    save("retrieval", results)


if __name__ == "__main__":
    main()
