"""The search API the rest of the product calls: ``Searcher(folder).search(text, k)``.

A query goes through: NFC + chat abbreviations -> diacritic restoration when it
was typed without accents -> legal vocabulary for everyday phrases -> BM25
(accented + folded fields) and dense e5 retrieval over the passages, the article
headings and the articles' sample questions -> linear fusion, with weights set by how
citizen-like the wording is (``Tuning``) -> the best passage of each article, with a
calibrated ``confident`` flag.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from knowledge import dense, validity
from knowledge.chat import ChatLexicon, default_lexicon, read_plainly
from knowledge.diacritics import DiacriticRestorer
from knowledge.e5.encoder import Encoder
from knowledge.fuse import Calibration, Signals, linear_fusion
from knowledge.index import DEFAULT_INDEX, DEFAULT_MODEL, article_titles, read_passages
from knowledge.passages import Passage
from knowledge.sparse import SparseIndex, terms, top_positive
from knowledge.threads import set_threads
from vietnamese import normalize

SIGNALS = ("bm25", "dense", "title", "sample", "sample_bm25")


@dataclass(frozen=True)
class Weights:
    """Fusion weights of one kind of question; passage BM25 gets what the others leave of 1."""

    dense: float  # the query's cosine to the passage
    title: float  # ... to the article's heading
    sample: float = 0.0  # ... to the article's closest sample question (sample_questions.py)
    sample_bm25: float = 0.0  # BM25 of the query over the article's sample questions

    def vector(self) -> np.ndarray:
        """Weights in the order of ``SIGNALS``."""
        rest = self.dense + self.title + self.sample + self.sample_bm25
        return np.array([1.0 - rest, self.dense, self.title, self.sample, self.sample_bm25])


@dataclass(frozen=True)
class Tuning:
    """Fusion settings, tuned on the dev questions (benchmarks/search/tune.py).

    Two kinds of question need different weights. One worded like the statute (the ALQAC dev
    questions) is best met by the passages themselves; one worded like a citizen ("nhà e …
    có sao ko") is best met by the sample questions citizens were written to ask. The gate
    tells them apart by how much closer the query is to the best sample question than to the
    best passage (median +0.004 on the dev questions, +0.06 on the colloquial ones), and moves
    from the statute weights to the citizen weights between ``gate_low`` and ``gate_high``."""

    statute: Weights = Weights(dense=0.5, title=0.1)
    # retuned with the 34 laws (issue 21): 0.1 moved from passage vectors to BM25 over the samples
    citizen: Weights = Weights(dense=0.2, title=0.0, sample=0.4, sample_bm25=0.3)
    gate_low: float = 0.01
    gate_high: float = 0.05
    folded_weight: float = 0.3  # folded BM25 field, accented queries
    folded_weight_unaccented: float = 1.0  # ... and queries typed without accents
    candidates: int = 100  # per retriever, before fusion
    title_candidates: int = 30  # articles whose heading is closest to the query
    sample_candidates: int = 30  # articles whose sample questions are closest to the query
    expand_dense: bool = False  # also send legal-term expansions to the dense side

    def gate(self, sample_cos: float, passage_cos: float) -> float:
        """0 for a question worded like the statute, 1 for one worded like a citizen."""
        if np.isnan(sample_cos):  # no sample questions in the index
            return 0.0
        span = max(self.gate_high - self.gate_low, 1e-9)
        return float(np.clip((sample_cos - passage_cos - self.gate_low) / span, 0.0, 1.0))

    def weights(self, gate: float) -> np.ndarray:
        """The fusion weights (in the order of ``SIGNALS``) for a question's gate value."""
        return (1.0 - gate) * self.statute.vector() + gate * self.citizen.vector()

    def uses(self, signal: str) -> bool:
        """Whether either kind of question gives ``signal`` any weight."""
        return any(getattr(w, signal) for w in (self.statute, self.citizen))


@dataclass(frozen=True)
class Hit:
    """One returned passage with its scores and citation."""

    passage: Passage
    score: float
    bm25: float
    dense: float

    def to_dict(self) -> dict:
        p = self.passage
        return {
            **p.to_dict(),
            "citation": p.citation,
            "validity": validity.of(p).to_dict(),
            "score": round(self.score, 4),
            "bm25": round(self.bm25, 4),
            "dense": round(self.dense, 4),
        }


@dataclass(frozen=True)
class Query:
    """The forms of one question the retrievers see."""

    original: str
    restored: str  # abbreviations expanded, accents restored if typed without
    expanded: str  # restored + legal vocabulary
    unaccented: bool


@dataclass
class SearchResult:
    query: Query
    hits: list[Hit]
    confident: bool
    confidence: float
    signals: Signals | None = field(default=None, repr=False)

    def to_dict(self) -> dict:
        return {
            "query": self.query.original,
            "interpreted": self.query.expanded,
            "confident": self.confident,
            "confidence": round(self.confidence, 3),
            "hits": [h.to_dict() for h in self.hits],
        }


class Searcher:
    """Loads an index folder once; thread-safe for reads."""

    def __init__(
        self,
        folder: Path = DEFAULT_INDEX,
        *,
        model_dir: Path = DEFAULT_MODEL,
        tuning: Tuning = Tuning(),
        calibration: Calibration | None = None,
        lexicon: ChatLexicon | None = None,
        encoder: Encoder | None = None,
    ) -> None:
        if not (folder / "manifest.json").exists():
            raise FileNotFoundError(
                f"Chưa có chỉ mục tìm kiếm ở {folder}. Hãy chạy: python -m knowledge build"
            )
        set_threads(1)
        self.folder = folder
        self.tuning = tuning
        self.passages = read_passages(folder)
        self.sparse = SparseIndex.load(folder)
        self.faiss = dense.load_faiss(folder / "dense.faiss")
        self.titles_faiss = dense.load_faiss(folder / "titles.faiss")
        self.vectors = np.load(folder / "vectors.npy", mmap_mode="r")
        self.title_vectors = np.load(folder / "title_vectors.npy")
        firsts, self.article_of = article_titles(self.passages)
        self.article_passages = _group(self.article_of, len(self.title_vectors))
        self.restorer = DiacriticRestorer.load(folder / "restorer.json.gz")
        self.samples = _Samples.load(folder, {(p.doc_id, p.article_id): i
                                              for i, p in enumerate(firsts)})
        self.lexicon = lexicon or default_lexicon()
        self.calibration = calibration or Calibration.load()
        self.encoder = encoder or Encoder(model_dir)

    def interpret(self, text: str) -> Query:
        """Expand chat spellings, restore accents, add legal vocabulary."""
        text = normalize(text)
        plain, restored, unaccented = read_plainly(text, self.lexicon, self.restorer)
        extra = self.lexicon.legal_terms(plain)  # as typed: its diacritics pick the phrase
        expanded = " ".join([restored, *extra])
        return Query(original=text, restored=restored, expanded=expanded, unaccented=unaccented)

    def search(self, text: str, k: int = 5) -> SearchResult:
        """Top-k passages (best passage per article) for a citizen's question."""
        if k < 1:
            raise ValueError(f"k phải ≥ 1 (nhận {k})")
        query = self.interpret(text)
        if not terms(query.expanded):
            return SearchResult(query, [], False, 0.0)
        t = self.tuning
        folded_w = t.folded_weight_unaccented if query.unaccented else t.folded_weight
        bm25_all = self.sparse.scores(query.expanded, folded_weight=folded_w)
        pools = [top_positive(bm25_all, t.candidates)]
        use_samples = self.samples.size > 0 and (t.uses("sample") or t.uses("sample_bm25"))
        gate = 0.0
        qvec = self.encoder.encode_query(query.expanded if t.expand_dense else query.restored)
        best_cos, nearest = dense.search(self.faiss, qvec, t.candidates)
        pools.append(nearest)
        if t.uses("title"):
            articles = dense.search(self.titles_faiss, qvec, t.title_candidates)[1]
            pools.extend(self.article_passages[a] for a in articles)
        if use_samples:
            sample_cos = self.samples.dense(qvec[0])
            gate = t.gate(float(np.nanmax(sample_cos)), float(best_cos.max(initial=-1.0)))
            # no weight on the samples (a statute-like question): ranked as without them
            use_samples = bool(t.weights(gate)[SIGNALS.index("sample"):].any())
        if use_samples:
            articles = _top_finite(sample_cos, t.sample_candidates)
            pools.extend(self.article_passages[a] for a in articles)
        cand = np.unique(np.concatenate(pools)).astype(np.int64)
        if cand.size == 0:
            return SearchResult(query, [], False, 0.0)
        zeros = np.zeros(cand.size)
        scores = {
            "bm25": bm25_all[cand],
            "dense": np.asarray(self.vectors[cand]) @ qvec[0],
            "title": self.title_vectors[self.article_of[cand]] @ qvec[0],
            "sample": zeros,
            "sample_bm25": zeros,
        }
        if use_samples:
            articles = self.article_of[cand]
            scores["sample"] = _fill_missing(sample_cos[articles])
            bm25_samples = self.samples.bm25(query.restored, folded_w)
            scores["sample_bm25"] = np.nan_to_num(bm25_samples[articles], nan=0.0)
        fused = linear_fusion([(scores[n], w) for n, w in zip(SIGNALS, t.weights(gate))])
        order = np.argsort(-fused, kind="stable")
        hits = self._best_per_article(cand, order, fused, scores, k)
        signals = self._signals(query, cand, order, fused, scores, gate)
        prob = self.calibration.probability(signals)
        # an answer never rests on a text that has expired, is a draft or is not yet in force
        usable = bool(hits) and validity.of(hits[0].passage).usable
        return SearchResult(query, hits, prob >= self.calibration.threshold and usable, prob,
                            signals)

    def _best_per_article(self, cand, order, fused, scores, k: int) -> list[Hit]:
        return [
            Hit(self.passages[cand[j]], float(fused[j]), float(scores["bm25"][j]),
                float(scores["dense"][j]))
            for j in best_per_article(order, self.article_of[cand[order]], k)
        ]

    def _signals(self, query: Query, cand, order, fused, scores, gate: float) -> Signals:
        articles = self.article_of[cand[order]]
        second = next(
            (fused[order[i]] for i in range(1, len(order)) if articles[i] != articles[0]), 0.0
        )
        n_terms = max(1, len(terms(query.expanded)))
        bm25, cos = scores["bm25"], scores["dense"]
        agree = self.article_of[cand[np.argmax(bm25)]] == self.article_of[cand[np.argmax(cos)]]
        return Signals(
            top_dense=float(cos.max()),
            top_sparse=float(bm25.max()) / n_terms,
            margin=float(fused[order[0]] - second),
            agree=float(agree),
            gate=gate,
        )


def best_per_article(ids: np.ndarray, articles: np.ndarray, k: int) -> list[int]:
    """The first ``k`` of ``ids`` (best first) from different articles (``articles[i]`` is the
    article of ``ids[i]``): an article is cited once, by its best passage."""
    kept: list[int] = []
    seen: set[int] = set()
    for article, i in zip(articles.tolist(), ids.tolist()):
        if article not in seen:
            seen.add(article)
            kept.append(i)
            if len(kept) == k:
                break
    return kept


def _top_finite(scores: np.ndarray, n: int) -> np.ndarray:
    """Indices of the ``n`` best scores that are not NaN."""
    finite = np.flatnonzero(~np.isnan(scores))
    if finite.size > n:
        finite = finite[np.argpartition(-scores[finite], n)[:n]]
    return finite


def _fill_missing(values: np.ndarray) -> np.ndarray:
    """NaN (an article without samples) becomes the lowest score among the candidates, so
    it neither helps nor sinks that article against the others."""
    known = ~np.isnan(values)
    if not known.any():
        return np.zeros_like(values)
    return np.where(known, values, values[known].min())


class _Samples:
    """The index's sample questions, grouped by article: the closest sample per article."""

    def __init__(self, article: np.ndarray, vectors: np.ndarray, sparse: SparseIndex | None,
                 n_articles: int) -> None:
        order = np.argsort(article, kind="stable")
        self.article = article[order]
        self.vectors = np.ascontiguousarray(vectors[order], dtype=np.float32)
        self.order = order  # sparse scores come in file order
        self.size = int(article.size)
        self.sparse = sparse
        self.n_articles = n_articles
        self.starts = np.flatnonzero(np.r_[True, self.article[1:] != self.article[:-1]]) \
            if article.size else np.zeros(0, np.int64)

    @classmethod
    def load(cls, folder: Path, row: dict[tuple[str, str], int]) -> _Samples:
        """The samples of an index folder; ``row`` numbers its articles (as the headings)."""
        n_articles = len(row)
        path = folder / "samples.jsonl"
        if not path.exists():
            return cls(np.zeros(0, np.int64), np.zeros((0, 1), np.float32), None, n_articles)
        rows = [json.loads(line) for line in path.open(encoding="utf-8")]
        article = np.array([row[(r["doc_id"], r["article_id"])] for r in rows], np.int64)
        vectors = np.load(folder / "sample_vectors.npy")
        return cls(article, vectors, SparseIndex.load(folder, "bm25_samples"), n_articles)

    def _per_article(self, values: np.ndarray) -> np.ndarray:
        """The best value of each article's samples; NaN for an article without samples."""
        out = np.full(self.n_articles, np.nan)
        if values.size:
            out[self.article[self.starts]] = np.maximum.reduceat(values, self.starts)
        return out

    def dense(self, qvec: np.ndarray) -> np.ndarray:
        return self._per_article(self.vectors @ qvec)

    def bm25(self, text: str, folded_weight: float) -> np.ndarray:
        if self.sparse is None or not self.article.size:
            return np.full(self.n_articles, np.nan)
        return self._per_article(self.sparse.scores(text, folded_weight=folded_weight)[self.order])


def _group(article_of: np.ndarray, n_articles: int) -> list[np.ndarray]:
    """Passage ids of each article."""
    order = np.argsort(article_of, kind="stable")
    bounds = np.searchsorted(article_of[order], np.arange(n_articles + 1))
    return [order[bounds[a] : bounds[a + 1]] for a in range(n_articles)]
