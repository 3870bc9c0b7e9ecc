"""BM25 token choices compared: syllables, syllables + bigrams, pyvi word segmentation.

Accented field only, BM25 alone, best passage per article; MRR@10 on each set.

    .venv/bin/python -m benchmarks.search.tokenization
"""

from __future__ import annotations

import time

import numpy as np

from benchmarks.common import publish, question_sets
from knowledge import DEFAULT_INDEX, score_ranking
from knowledge.index import read_passages
from knowledge.sparse import BM25Field
from vietnamese import normalize, words


def pyvi_words(text: str) -> list[str]:
    from pyvi import ViTokenizer

    return [w for w in ViTokenizer.tokenize(normalize(text).lower()).split() if w[0].isalnum()]


TOKENIZERS = {
    "syllables": words,
    "syllables + bigrams": lambda t: (w := words(t)) + [f"{a}_{b}" for a, b in zip(w, w[1:])],
    "pyvi words": pyvi_words,
    "pyvi words + syllables": lambda t: pyvi_words(t) + words(t),
}


def main() -> None:
    passages = read_passages(DEFAULT_INDEX)
    keys = [(p.doc_id, p.article_id) for p in passages]
    sets = {k: v for k, v in question_sets(test=False).items() if "không dấu" not in k}
    rows = []
    for name, tokenize in TOKENIZERS.items():
        start = time.perf_counter()
        field = BM25Field.build([tokenize(p.index_text) for p in passages])
        row = {"tokens": name, "index s": f"{time.perf_counter() - start:.1f}"}
        for set_name, questions in sets.items():
            total = 0.0
            for q in questions:
                scores = field.scores(tokenize(q.text))
                ranked: list[tuple[str, str]] = []
                for i in np.argsort(-scores)[:200]:
                    if keys[i] not in ranked:
                        ranked.append(keys[i])
                total += score_ranking(ranked[:10], set(q.gold), (10,))[1]
            row[f"{set_name} MRR@10"] = f"{total / len(questions):.3f}"
        rows.append(row)
        print(row, flush=True)
    publish("tokenization", rows)


if __name__ == "__main__":
    main()
