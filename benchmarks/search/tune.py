"""Grid search of the fusion weights for questions worded like a citizen, and of the gate.

Tuned on the ALQAC dev questions and the odd-numbered half of our colloquial set
(as written and without diacritics); the even-numbered half is held out and
reported separately so the chosen weights can be checked for over-fitting.

The statute weights (``Tuning.statute``: BM25 0.4, passage vectors 0.5, headings 0.1, and the
folded-field weights) were tuned by the earlier version of this grid, before the index had
sample questions; with the gate they still decide the questions worded like the statute. This
grid varies the citizen weights (``Tuning.citizen``) and where the gate opens (88 settings,
~15 min).

    .venv/bin/python -m benchmarks.search.tune
"""

from __future__ import annotations

import itertools
from dataclasses import replace

from benchmarks.common import question_sets, save, table
from knowledge import Question, Searcher, Tuning, Weights, score_ranking


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
    sets = question_sets(test=False)
    tune, held = {}, {}
    for name, qs in sets.items():
        if name.startswith("colloquial"):
            tune[name], held[name + " held-out"] = split(qs)
        else:
            tune[name] = qs
    searcher = Searcher()
    cached(searcher)
    rows = []
    gates = ((0.0, 0.04), (0.01, 0.05))
    grid = itertools.product((0.2, 0.3, 0.4), (0.0, 0.1), (0.2, 0.3, 0.4), (0.1, 0.15, 0.2), gates)
    for dense_w, title_w, sample_w, sample_bm25_w, (low, high) in grid:
        if dense_w + title_w + sample_w + sample_bm25_w > 0.9:
            continue
        citizen = Weights(dense=dense_w, title=title_w, sample=sample_w, sample_bm25=sample_bm25_w)
        searcher.tuning = replace(Tuning(), citizen=citizen, gate_low=low, gate_high=high)
        row = {"dense": dense_w, "title": title_w, "sample": sample_w,
               "sample bm25": sample_bm25_w, "gate": f"{low}–{high}"}
        for name, qs in {**tune, **held}.items():
            row[name] = round(mrr(searcher, qs), 3)
        row["tune mean"] = round(sum(row[n] for n in tune) / len(tune), 3)
        rows.append(row)
        print(row, flush=True)
    rows.sort(key=lambda r: -r["tune mean"])
    cols = ["dense", "title", "sample", "sample bm25", "gate", "tune mean", *tune, *held]
    print(table(rows[:15], cols))
    save("tune", rows)


if __name__ == "__main__":
    main()
