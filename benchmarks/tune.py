"""Grid search of the fusion weights.

Tuned on the ALQAC dev questions and the odd-numbered half of our colloquial set
(as written and without diacritics); the even-numbered half is held out and
reported separately so the chosen weights can be checked for over-fitting.

    .venv/bin/python benchmarks/tune.py
"""

from __future__ import annotations

import itertools
from dataclasses import replace

from common import question_sets, save, table

from knowledge.evaluate import Question, score_ranking
from knowledge.search import Searcher, Tuning


def split(questions: list[Question]) -> tuple[list[Question], list[Question]]:
    odd = [q for q in questions if int(q.qid.split("-")[1]) % 2 == 1]
    even = [q for q in questions if int(q.qid.split("-")[1]) % 2 == 0]
    return odd, even


def mrr(searcher: Searcher, questions: list[Question]) -> float:
    total = 0.0
    for q in questions:
        hits = searcher.search(q.text, 10).hits
        total += score_ranking(
            [(h.passage.doc_id, h.passage.article_id) for h in hits], set(q.gold), (10,)
        )[1]
    return total / len(questions)


def cached(searcher: Searcher) -> None:
    """Memoise query encoding: the grid asks the same questions many times."""
    encode, memo = searcher.encoder.encode_query, {}

    def encode_once(text: str):
        if text not in memo:
            memo[text] = encode(text)
        return memo[text]

    searcher.encoder.encode_query = encode_once


def main() -> None:
    sets = question_sets()
    tune, held = {}, {}
    for name, qs in sets.items():
        if name.startswith("colloquial"):
            tune[name], held[name + " held-out"] = split(qs)
        else:
            tune[name] = qs
    searcher = Searcher()
    cached(searcher)
    rows = []
    grid = itertools.product((0.2, 0.3, 0.4, 0.5), (0.0, 0.1, 0.2, 0.3), (0.3, 1.0), (False, True))
    for dense_w, title_w, folded_w, expand in grid:
        if dense_w + title_w > 0.9:
            continue
        searcher.tuning = replace(
            Tuning(),
            dense_weight=dense_w,
            title_weight=title_w,
            folded_weight=folded_w,
            expand_dense=expand,
        )
        row = {"dense": dense_w, "title": title_w, "folded": folded_w, "expand": expand}
        for name, qs in {**tune, **held}.items():
            row[name] = round(mrr(searcher, qs), 3)
        row["tune mean"] = round(sum(row[n] for n in tune) / len(tune), 3)
        rows.append(row)
        print(row, flush=True)
    rows.sort(key=lambda r: -r["tune mean"])
    cols = ["dense", "title", "folded", "expand", "tune mean", *tune, *held]
    print(table(rows[:15], cols))
    save("tune", rows)


if __name__ == "__main__":
    main()
