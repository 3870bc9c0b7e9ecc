"""The search API the rest of the product calls: ``Searcher(folder).search(text, k)``.

A query goes through: NFC + chat abbreviations -> diacritic restoration when it
was typed without accents -> legal vocabulary for everyday phrases -> BM25
(accented + folded fields) and dense e5 retrieval -> linear fusion -> the best
passage of each article, with a calibrated ``confident`` flag.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

from knowledge import dense
from knowledge.chat import UNACCENTED_BELOW, ChatLexicon, default_lexicon, read_plainly
from knowledge.corpus import Passage
from knowledge.diacritics import DiacriticRestorer
from knowledge.fuse import Calibration, Signals, linear_fusion
from knowledge.index import DEFAULT_INDEX, DEFAULT_MODEL, article_titles
from knowledge.normalize import normalize
from knowledge.sparse import SparseIndex, terms

Mode = Literal["hybrid", "bm25", "dense"]


@dataclass(frozen=True)
class Tuning:
    """Fusion settings, tuned on the dev questions (benchmarks/tune.py)."""

    dense_weight: float = 0.5
    title_weight: float = 0.1  # dense similarity of the query to the article's heading
    folded_weight: float = 0.3  # folded BM25 field, accented queries
    folded_weight_unaccented: float = 1.0  # ... and queries typed without accents
    unaccented_below: float = UNACCENTED_BELOW  # accent ratio below which a query is unaccented
    candidates: int = 100  # per retriever, before fusion
    title_candidates: int = 30  # articles whose heading is closest to the query
    expand_dense: bool = False  # also send legal-term expansions to the dense side

    def weights(self) -> tuple[float, float, float]:
        """(BM25, dense passage, dense title) weights of the fusion."""
        return (1.0 - self.dense_weight - self.title_weight, self.dense_weight, self.title_weight)


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
        encoder: dense.Encoder | None = None,
    ) -> None:
        if not (folder / "manifest.json").exists():
            raise FileNotFoundError(
                f"Chưa có chỉ mục tìm kiếm ở {folder}. Hãy chạy: python -m knowledge build"
            )
        dense.set_threads(1)
        self.folder = folder
        self.tuning = tuning
        self.passages = [_passage(json.loads(line)) for line in (folder / "passages.jsonl").open()]
        self.sparse = SparseIndex.load(folder)
        self.faiss = dense.load_faiss(folder / "dense.faiss")
        self.titles_faiss = dense.load_faiss(folder / "titles.faiss")
        self.vectors = np.load(folder / "vectors.npy", mmap_mode="r")
        self.title_vectors = np.load(folder / "title_vectors.npy")
        _, self.article_of = article_titles(self.passages)
        self.article_passages = _group(self.article_of, len(self.title_vectors))
        self.restorer = DiacriticRestorer.load(folder / "restorer.json.gz")
        self.lexicon = lexicon or default_lexicon()
        self.calibration = calibration or Calibration.load()
        self.encoder = encoder or dense.Encoder(model_dir)

    def interpret(self, text: str) -> Query:
        """Expand chat spellings, restore accents, add legal vocabulary."""
        text = normalize(text)
        plain, restored, unaccented = read_plainly(text, self.lexicon, self.restorer,
                                                   self.tuning.unaccented_below)
        extra = self.lexicon.legal_terms(plain)  # as typed: its diacritics pick the phrase
        expanded = " ".join([restored, *extra])
        return Query(original=text, restored=restored, expanded=expanded, unaccented=unaccented)

    def search(self, text: str, k: int = 5, *, mode: Mode = "hybrid") -> SearchResult:
        """Top-k passages (best passage per article) for a citizen's question."""
        if k < 1:
            raise ValueError(f"k phải ≥ 1 (nhận {k})")
        query = self.interpret(text)
        if not terms(query.expanded):
            return SearchResult(query, [], False, 0.0)
        t = self.tuning
        folded_w = t.folded_weight_unaccented if query.unaccented else t.folded_weight
        bm25_all = self.sparse.scores(query.expanded, folded_weight=folded_w)
        pools = []
        if mode != "dense":
            pools.append(_top_positive(bm25_all, t.candidates))
        if mode != "bm25":
            qvec = self.encoder.encode_query(query.expanded if t.expand_dense else query.restored)
            pools.append(dense.search(self.faiss, qvec, t.candidates)[1])
            if mode == "hybrid" and t.title_weight:
                articles = dense.search(self.titles_faiss, qvec, t.title_candidates)[1]
                pools.extend(self.article_passages[a] for a in articles)
        cand = np.unique(np.concatenate(pools)).astype(np.int64)
        if cand.size == 0:
            return SearchResult(query, [], False, 0.0)
        scores = {"bm25": bm25_all[cand]}
        if mode != "bm25":
            scores["dense"] = np.asarray(self.vectors[cand]) @ qvec[0]
            scores["title"] = self.title_vectors[self.article_of[cand]] @ qvec[0]
        else:
            scores["dense"] = scores["title"] = np.zeros(cand.size)
        weights = {"hybrid": t.weights(), "bm25": (1.0, 0.0, 0.0), "dense": (0.0, 1.0, 0.0)}
        parts = zip((scores["bm25"], scores["dense"], scores["title"]), weights[mode])
        fused = linear_fusion(list(parts))
        order = np.argsort(-fused, kind="stable")
        hits = self._best_per_article(cand, order, fused, scores, k)
        signals = self._signals(query, cand, order, fused, scores)
        prob = self.calibration.probability(signals)
        return SearchResult(query, hits, prob >= self.calibration.threshold, prob, signals)

    def _best_per_article(self, cand, order, fused, scores, k: int) -> list[Hit]:
        hits: list[Hit] = []
        seen: set[int] = set()
        for j in order:
            article = int(self.article_of[cand[j]])
            if article in seen:
                continue
            seen.add(article)
            p = self.passages[cand[j]]
            hits.append(
                Hit(p, float(fused[j]), float(scores["bm25"][j]), float(scores["dense"][j]))
            )
            if len(hits) == k:
                break
        return hits

    def _signals(self, query: Query, cand, order, fused, scores) -> Signals:
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
        )


def _top_positive(scores: np.ndarray, n: int) -> np.ndarray:
    """Indices of the ``n`` best positive scores, without sorting the whole array."""
    if scores.size > n:
        top = np.argpartition(-scores, n)[:n]
    else:
        top = np.arange(scores.size)
    return top[scores[top] > 0]


def _group(article_of: np.ndarray, n_articles: int) -> list[np.ndarray]:
    """Passage ids of each article."""
    order = np.argsort(article_of, kind="stable")
    bounds = np.searchsorted(article_of[order], np.arange(n_articles + 1))
    return [order[bounds[a] : bounds[a + 1]] for a in range(n_articles)]


def _passage(row: dict) -> Passage:
    row.pop("key", None)
    return Passage(**row)
