"""BM25 over Vietnamese syllables and syllable bigrams, with an accent-folded field.

Vietnamese words are mostly two syllables ("thường trú"), so bigrams of syllables
stand in for word segmentation (pyvi measured within noise of plain syllables,
see docs/figures.md). A second field indexes the same tokens with every
diacritic removed, so "thuong tru" still meets "thường trú".
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import sparse

from vietnamese import fold, words

K1 = 0.9  # tuned with benchmarks/search/bm25_params.py (k1 0.6–2.0, b 0.2–0.9 tried)
B = 0.4  # legal passages repeat their heading; weaker length normalisation measured better


def terms(text: str, *, folded: bool = False) -> list[str]:
    """Syllables plus adjacent-syllable bigrams of ``text``."""
    toks = words(fold(text) if folded else text)
    return toks + [f"{a}_{b}" for a, b in zip(toks, toks[1:])]


def top_positive(scores: np.ndarray, n: int) -> np.ndarray:
    """Indices of the ``n`` best positive scores, without sorting the whole array."""
    if scores.size > n:
        top = np.argpartition(-scores, n)[:n]
    else:
        top = np.arange(scores.size)
    return top[scores[top] > 0]


@dataclass
class BM25Field:
    """A BM25 weight matrix (passages x vocabulary) for one tokenisation."""

    vocab: dict[str, int]
    weights: sparse.csc_matrix

    @classmethod
    def build(cls, docs: Sequence[list[str]]) -> BM25Field:
        vocab: dict[str, int] = {}
        rows, cols, vals = [], [], []
        for i, toks in enumerate(docs):
            ids = np.fromiter((vocab.setdefault(t, len(vocab)) for t in toks), np.int64, len(toks))
            uniq, counts = np.unique(ids, return_counts=True)
            rows.append(np.full(len(uniq), i, np.int64))
            cols.append(uniq)
            vals.append(counts.astype(np.float32))
        shape = (len(docs), len(vocab))
        if not rows:
            return cls(vocab, sparse.csc_matrix(shape, dtype=np.float32))
        tf = sparse.csr_matrix(
            (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=shape
        )
        return cls(vocab, _bm25_weights(tf))

    def scores(self, query_terms: list[str]) -> np.ndarray:
        """BM25 score of every passage for the query terms (unknown terms ignored)."""
        cols = sorted({self.vocab[t] for t in query_terms if t in self.vocab})
        if not cols:
            return np.zeros(self.weights.shape[0], np.float32)
        return np.asarray(self.weights[:, cols].sum(axis=1)).ravel()

    def save(self, path: Path) -> None:
        sparse.save_npz(path.with_suffix(".npz"), self.weights.tocsr())
        path.with_suffix(".vocab.json").write_text(json.dumps(self.vocab, ensure_ascii=False))

    @classmethod
    def load(cls, path: Path) -> BM25Field:
        weights = sparse.load_npz(path.with_suffix(".npz")).tocsc()
        vocab = json.loads(path.with_suffix(".vocab.json").read_text())
        return cls(vocab, weights)


def _bm25_weights(tf: sparse.csr_matrix) -> sparse.csc_matrix:
    """Turn term frequencies into BM25 term weights (Lucene's idf)."""
    n_docs = tf.shape[0]
    doc_len = np.asarray(tf.sum(axis=1)).ravel()
    avg = doc_len.mean() if n_docs else 1.0
    df = np.bincount(tf.indices, minlength=tf.shape[1])
    idf = np.log(1.0 + (n_docs - df + 0.5) / (df + 0.5)).astype(np.float32)
    coo = tf.tocoo()
    norm = K1 * (1 - B + B * doc_len[coo.row] / avg)
    data = idf[coo.col] * coo.data * (K1 + 1) / (coo.data + norm)
    return sparse.csc_matrix((data.astype(np.float32), (coo.row, coo.col)), shape=tf.shape)


@dataclass
class SparseIndex:
    """The accented and the folded BM25 fields over the same passages."""

    accented: BM25Field
    folded: BM25Field

    @classmethod
    def build(cls, texts: Sequence[str]) -> SparseIndex:
        return cls(
            BM25Field.build([terms(t) for t in texts]),
            BM25Field.build([terms(t, folded=True) for t in texts]),
        )

    def scores(self, query: str, *, folded_weight: float) -> np.ndarray:
        """Accented-field score plus ``folded_weight`` times the folded-field score."""
        score = self.accented.scores(terms(query))
        if folded_weight:
            score = score + folded_weight * self.folded.scores(terms(query, folded=True))
        return score

    def save(self, folder: Path, name: str = "bm25") -> None:
        self.accented.save(folder / f"{name}_accented")
        self.folded.save(folder / f"{name}_folded")

    @classmethod
    def load(cls, folder: Path, name: str = "bm25") -> SparseIndex:
        return cls(BM25Field.load(folder / f"{name}_accented"),
                   BM25Field.load(folder / f"{name}_folded"))
