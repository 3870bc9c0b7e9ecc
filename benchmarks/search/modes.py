"""Rankings the retrieval benchmark compares, each as ``rank(text, k)`` -> the (law_id,
article_id) of the hits, best first: the search as shipped, and BM25 or the passage vectors
alone.

The citizen search (``Searcher.search``) has no switch for a single retriever; the two below
compose the Searcher's own parts (``interpret``, its BM25 field, encoder and FAISS index, the
best passage per article) exactly as its candidate pools and fusion would with all the weight
on one signal, so their figures are those the search's ``mode="bm25"``/``"dense"`` gave.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from knowledge import Searcher
from knowledge.dense import search as nearest
from knowledge.fuse import linear_fusion
from knowledge.search import best_per_article
from knowledge.sparse import terms, top_positive

Rank = Callable[[str, int], list[tuple[str, str]]]


def hybrid(searcher: Searcher) -> Rank:
    """The search as shipped (with the searcher's ``tuning``)."""

    def rank(text: str, k: int) -> list[tuple[str, str]]:
        return [(h.passage.doc_id, h.passage.article_id) for h in searcher.search(text, k).hits]

    return rank


def bm25_alone(searcher: Searcher) -> Rank:
    """The passages' BM25 (accented field plus the folded one, weighted as the search weighs
    them): the best ``tuning.candidates`` positive scores, ranked by score."""

    def rank(text: str, k: int) -> list[tuple[str, str]]:
        query = searcher.interpret(text)
        if not terms(query.expanded):
            return []
        t = searcher.tuning
        folded = t.folded_weight_unaccented if query.unaccented else t.folded_weight
        scores = searcher.sparse.scores(query.expanded, folded_weight=folded)
        cand = np.unique(top_positive(scores, t.candidates)).astype(np.int64)
        return _best_articles(searcher, cand, scores[cand], k)

    return rank


def dense_alone(searcher: Searcher) -> Rank:
    """The passage vectors: the ``tuning.candidates`` nearest passages to the query's e5
    vector, ranked by cosine."""

    def rank(text: str, k: int) -> list[tuple[str, str]]:
        query = searcher.interpret(text)
        if not terms(query.expanded):
            return []
        t = searcher.tuning
        qvec = searcher.encoder.encode_query(query.expanded if t.expand_dense else query.restored)
        cand = np.unique(nearest(searcher.faiss, qvec, t.candidates)[1]).astype(np.int64)
        return _best_articles(searcher, cand, np.asarray(searcher.vectors[cand]) @ qvec[0], k)

    return rank


def _best_articles(searcher: Searcher, cand: np.ndarray, scores: np.ndarray,
                   k: int) -> list[tuple[str, str]]:
    """The candidates ranked as the search's fusion ranks one signal (min-max normalised, ties
    in passage order), each article once, by its best passage."""
    ranked = cand[np.argsort(-linear_fusion([(scores, 1.0)]), kind="stable")]
    best = (searcher.passages[i] for i in best_per_article(ranked, searcher.article_of[ranked], k))
    return [(p.doc_id, p.article_id) for p in best]
