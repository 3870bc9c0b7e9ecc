"""BM25's k1 and b inside the full hybrid search: MRR@10 on every question set.

.venv/bin/python -m benchmarks.search.bm25_params
"""

from __future__ import annotations

from benchmarks.common import publish, question_sets
from benchmarks.search.tune import cached, mrr
from knowledge import Searcher, sparse

GRID = [
    (1.2, 0.75),
    (1.2, 0.5),
    (1.2, 0.3),
    (0.9, 0.5),
    (0.9, 0.4),
    (0.9, 0.3),
    (0.6, 0.3),
    (1.5, 0.75),
    (2.0, 0.75),
    (1.2, 0.9),
]


def main() -> None:
    sets = question_sets(test=False)
    searcher = Searcher()
    cached(searcher)
    texts = [p.index_text for p in searcher.passages]
    rows = []
    for k1, b in GRID:
        sparse.K1, sparse.B = k1, b
        searcher.sparse = sparse.SparseIndex.build(texts)
        row = {"k1": k1, "b": b} | {name: f"{mrr(searcher, qs):.3f}" for name, qs in sets.items()}
        rows.append(row)
        print(row, flush=True)
    publish("bm25_params", rows)


if __name__ == "__main__":
    main()
