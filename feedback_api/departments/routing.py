"""The department classifier: which department should answer a new citizen feedback item.

Signals, strongest first:

1. **Citations.** The departments that own the policy passages the item cites. Each cited
   department gets a fixed bonus of ``CITATION_BONUS`` logits, so the text must point
   elsewhere by a factor of e**3 (about 20x in odds) to override a citation, e.g. a
   complaint about an official's harassment while citing a land law.
2. **Meaning.** The e5 embedding of the text against each department's labelled examples
   (mean cosine of the ``KNN_K`` nearest) and against the clauses of its mandate (best
   cosine). Mandates come from the department rows, so admins' edits take effect.
3. **Words.** The accent-folded words and word pairs of the text against the examples
   (TF-IDF, mean cosine of the nearest), which still work when the text is typed without
   diacritics and e5 reads it poorly; and distinct keyword phrases found (capped).

The four text features are combined by a conditional-logit model (softmax over
departments of a weighted sum, five numbers fitted on the dev set by
``python -m benchmarks.routing.departments --tune``); a constant "none of them" logit
absorbs mass when no department is similar at all, so greetings and gibberish get low
confidence. Confidence is the winner's probability. Below the tuned threshold the item
goes to central triage (Văn phòng UBND tỉnh) marked "needs routing". Formal complaints and
denunciations (khiếu nại, tố cáo) always go to the inspectorate (Thanh tra tỉnh): they have
their own legal procedure, whatever the cited passage.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

from feedback_api.departments.codes import CENTRAL, INSPECTORATE
from feedback_api.departments.routing_keywords import (
    KeywordMatcher,
    folded_words,
    is_formal_complaint,
)
from knowledge import QUERY_PREFIX, Encoder, model_identity, set_threads
from vietnamese import normalize

__all__ = [
    "Alternative",
    "DepartmentClassifier",
    "DepartmentProfile",
    "RoutingDecision",
    "Weights",
    "is_formal_complaint",
]

log = logging.getLogger(__name__)
HERE = Path(__file__).resolve().parent
DATA = HERE / "routing_data"
SEED = HERE / "seed.json"
KNN_K = 3
KEYWORD_CAP = 3
CITATION_BONUS = 3.0
FORMAL_BONUS = 6.0
N_ALTERNATIVES = 3


@dataclass(frozen=True)
class DepartmentProfile:
    code: str
    name: str
    mandate: str


@dataclass(frozen=True)
class Alternative:
    department: str
    score: float


@dataclass(frozen=True)
class RoutingDecision:
    department: str  # chosen code; CENTRAL when not auto-routed
    confidence: float  # 0..1, the predicted department's probability
    auto_routed: bool  # False -> central triage, "needs routing"
    alternatives: list[Alternative]  # best-first top 3, before the triage fallback
    predicted: str  # best department even when not auto-routed
    reason: str  # "citation", "semantic", "keywords", "formal_complaint"
    formal_complaint: bool  # khiếu nại / tố cáo -> thanh-tra

    def to_dict(self) -> dict:
        return {
            "department": self.department,
            "confidence": round(self.confidence, 3),
            "auto_routed": self.auto_routed,
            "predicted": self.predicted,
            "reason": self.reason,
            "formal_complaint": self.formal_complaint,
            "alternatives": [
                {"department": a.department, "score": round(a.score, 3)} for a in self.alternatives
            ],
        }


@dataclass(frozen=True)
class Weights:
    """Conditional-logit weights of the text features, and the routing threshold."""

    knn: float = 10.0
    mandate: float = 5.0
    lexical: float = 5.0
    keywords: float = 2.0
    none: float = 16.0  # logit of "no department fits"
    threshold: float = 0.5
    notes: dict = field(default_factory=dict, compare=False)

    @classmethod
    def load(cls, path: Path = DATA / "threshold.json") -> Weights:
        raw = json.loads(path.read_text(encoding="utf-8"))
        w = raw.get("weights", {})
        return cls(
            knn=float(w.get("knn", cls.knn)),
            mandate=float(w.get("mandate", cls.mandate)),
            lexical=float(w.get("lexical", cls.lexical)),
            keywords=float(w.get("keywords", cls.keywords)),
            none=float(w.get("none", cls.none)),
            threshold=float(raw["threshold"]),
            notes=raw,
        )


@dataclass(frozen=True)
class Features:
    """Per-department text features of one item (rows follow ``DepartmentClassifier.codes``)."""

    knn: np.ndarray
    mandate: np.ndarray
    lexical: np.ndarray
    keywords: np.ndarray


def seed_profiles(path: Path = SEED) -> list[DepartmentProfile]:
    """The 14 departments of the seed configuration."""
    rows = json.loads(path.read_text(encoding="utf-8"))["departments"]
    return [DepartmentProfile(r["code"], r["name"], r["mandate"]) for r in rows]


def load_examples(path: Path = DATA / "examples.json") -> list[tuple[str, str]]:
    """Shipped labelled examples as (text, department code)."""
    rows = json.loads(path.read_text(encoding="utf-8"))["examples"]
    return [(r["text"], r["department"]) for r in rows]


def load_keywords(path: Path = DATA / "keywords.json") -> dict[str, list[str]]:
    return json.loads(path.read_text(encoding="utf-8"))["keywords"]


def mandate_clauses(profile: DepartmentProfile) -> list[str]:
    """The department's name with its whole mandate, then each clause on its own."""
    clauses = [c.strip(" .") for c in profile.mandate.replace(";", ".").split(".")]
    return [f"{profile.name}: {profile.mandate}", *(c for c in clauses if c)]


def _encode(encoder: Encoder, texts: Sequence[str]) -> np.ndarray:
    vecs = encoder.model.encode(
        [QUERY_PREFIX + t for t in texts], batch_size=32, normalize_embeddings=True
    )
    return np.asarray(vecs, dtype=np.float32).reshape(len(texts), -1)


def _encode_kept(encoder: Encoder, texts: Sequence[str]) -> np.ndarray:
    """``_encode``, read back from ``models/routing-vectors/`` when this very model already
    encoded these very texts. Every API and worker process builds a classifier, and its ~900
    examples and mandate clauses cost 10-20 s of a core each time; the file holds the same
    vectors. Never for items' texts: only what the classifier is built from."""
    identity = model_identity(Path(encoder.model_dir))
    if identity == "unknown":
        return _encode(encoder, texts)
    key = hashlib.sha256("\0".join([identity, QUERY_PREFIX, *texts]).encode()).hexdigest()
    path = Path(encoder.model_dir).parent / "routing-vectors" / f"{key[:32]}.npy"
    try:
        vecs = np.load(path)
        if vecs.shape == (len(texts), encoder.dim):
            return vecs
    except (OSError, ValueError):
        pass
    vecs = _encode(encoder, texts)
    try:  # written whole under another name, then renamed: a reader never sees half a file
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f"{path.stem}.{os.getpid()}.partial.npy")
        np.save(partial, vecs)
        os.replace(partial, path)
    except OSError as exc:  # a read-only models folder: encode again next time
        log.info("routing vectors not kept: %s", type(exc).__name__)
    return vecs


class DepartmentClassifier:
    """Decides the department of feedback text (the routing of an item).

    Building encodes the examples and mandates (~900 short texts, 10-20 s on one core) unless
    a process before it kept their vectors (``_encode_kept``): build once per process;
    ``route`` then costs one query encoding (20-40 ms).
    """

    def __init__(
        self,
        departments: Sequence[DepartmentProfile],
        *,
        encoder: Encoder,
        examples: Sequence[tuple[str, str]] | None = None,
        threshold: float | None = None,
        restore: Callable[[str], str] | None = None,
        keywords: dict[str, list[str]] | None = None,
        weights: Weights | None = None,
    ) -> None:
        self.codes = [d.code for d in departments]
        if CENTRAL not in self.codes:
            raise ValueError(f"thiếu phòng ban tiếp nhận chung {CENTRAL}")
        index = {c: i for i, c in enumerate(self.codes)}
        set_threads(1)  # two cores shared with other work: one thread is fastest
        self.encoder = encoder
        self.restore = restore
        self.weights = weights or Weights.load()
        self.threshold = self.weights.threshold if threshold is None else threshold
        self.matcher = KeywordMatcher(load_keywords() if keywords is None else keywords)
        examples = [(t, c) for t, c in (examples or ()) if c in index]
        # Examples are stored as written and accent-folded, so unaccented messages meet
        # unaccented neighbours (e5 reads "so do" and "sổ đỏ" as different words).
        texts = [t for t, _ in examples] + [folded_words(t) for t, _ in examples]
        self.example_dept = np.array([index[c] for _, c in examples] * 2, dtype=np.int64)
        self.example_vecs = (_encode_kept(encoder, texts) if texts
                             else np.zeros((0, encoder.dim)))
        clauses = [(index[d.code], c) for d in departments for c in mandate_clauses(d)]
        self.mandate_dept = np.array([i for i, _ in clauses], dtype=np.int64)
        self.mandate_vecs = _encode_kept(encoder, [c for _, c in clauses])
        self.tfidf = TfidfVectorizer(token_pattern=r"\w+", ngram_range=(1, 2), sublinear_tf=True)
        folded = [folded_words(t) for t, _ in examples]
        self.lexical_matrix = self.tfidf.fit_transform(folded) if examples else None
        self.lexical_dept = self.example_dept[: len(examples)]

    @classmethod
    def default(
        cls, encoder: Encoder, restore: Callable[[str], str] | None = None
    ) -> DepartmentClassifier:
        """Seed departments, shipped examples and keywords, tuned weights and threshold."""
        return cls(seed_profiles(), encoder=encoder, examples=load_examples(), restore=restore)

    def features(
        self, text: str, *, restored: str | None = None, vec: np.ndarray | None = None
    ) -> Features:
        """Per-department text features (the restored text when a restorer is given)."""
        if restored is None:
            restored = self.restore(text) if self.restore else text
        if vec is None:
            vec = self.encoder.encode_query(restored)[0]
        n = len(self.codes)
        knn = self._nearest(self.example_vecs @ vec, self.example_dept)
        lexical = np.zeros(n, np.float32)
        if self.lexical_matrix is not None:
            query = self.tfidf.transform([folded_words(restored)])
            lex = (self.lexical_matrix @ query.T).toarray()[:, 0]
            lexical = self._nearest(lex, self.lexical_dept)
        msims = self.mandate_vecs @ vec
        mandate = np.array([msims[self.mandate_dept == i].max() for i in range(n)], np.float32)
        hits = self.matcher.hits([text, restored])
        kw = np.array([min(len(hits.get(c, ())), KEYWORD_CAP) for c in self.codes], np.float32)
        return Features(knn=knn, mandate=mandate, lexical=lexical, keywords=kw)

    def _nearest(self, sims: np.ndarray, depts: np.ndarray) -> np.ndarray:
        """Mean similarity of each department's ``KNN_K`` nearest examples."""
        out = np.zeros(len(self.codes), np.float32)
        for i in range(len(self.codes)):
            mine = np.sort(sims[depts == i])[::-1][:KNN_K]
            out[i] = float(mine.mean()) if len(mine) else 0.0
        return out

    def logits(self, f: Features) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(total, semantic part, word part) logits per department."""
        w = self.weights
        semantic = w.knn * f.knn + w.mandate * f.mandate
        keyword = w.lexical * f.lexical + w.keywords * f.keywords
        return semantic + keyword, semantic, keyword

    def route_many(
        self, texts: Sequence[str], cited: Sequence[Sequence[str]] | None = None
    ) -> list[RoutingDecision]:
        """Route a batch: one batched encoding instead of one per text (the worker's path)."""
        cited = cited or [()] * len(texts)
        normalized = [normalize(t) for t in texts]
        restored = [self.restore(t) if self.restore else t for t in normalized]
        vecs = _encode(self.encoder, restored) if texts else np.zeros((0, self.encoder.dim))
        return [
            self.route(t, cited_departments=c, _restored=r, _vec=v)
            for t, c, r, v in zip(normalized, cited, restored, vecs, strict=True)
        ]

    def route(
        self,
        text: str,
        *,
        cited_departments: Sequence[str] = (),
        _restored: str | None = None,
        _vec: np.ndarray | None = None,
    ) -> RoutingDecision:
        """Decide the department of one feedback item."""
        text = normalize(text)
        if not any(ch.isalpha() for ch in text):
            return self._triage_only()
        f = self.features(text, restored=_restored, vec=_vec)
        total, semantic, keyword = self.logits(f)
        cited = [self.codes.index(c) for c in dict.fromkeys(cited_departments) if c in self.codes]
        total[cited] += CITATION_BONUS
        formal = is_formal_complaint(text) and INSPECTORATE in self.codes
        if formal:
            total[self.codes.index(INSPECTORATE)] += FORMAL_BONUS
        probs = _softmax_with_none(total, self.weights.none)
        order = np.argsort(-probs)
        best = self.codes.index(INSPECTORATE) if formal else int(order[0])
        confidence = float(probs[best])
        auto = formal or confidence >= self.threshold
        if formal:
            reason = "formal_complaint"
        elif best in cited:
            reason = "citation"
        else:
            runner = int(order[1])
            kw_margin = keyword[best] - keyword[runner]
            reason = "keywords" if kw_margin > semantic[best] - semantic[runner] else "semantic"
        return RoutingDecision(
            department=self.codes[best] if auto else CENTRAL,
            confidence=confidence,
            auto_routed=auto,
            alternatives=[
                Alternative(self.codes[i], float(probs[i])) for i in order[:N_ALTERNATIVES]
            ],
            predicted=self.codes[best],
            reason=reason,
            formal_complaint=formal,
        )

    def _triage_only(self) -> RoutingDecision:
        return RoutingDecision(CENTRAL, 0.0, False, [], CENTRAL, "semantic", False)


def _softmax_with_none(logits: np.ndarray, none_logit: float) -> np.ndarray:
    """Department probabilities when a 'none of them' class also competes."""
    top = max(float(logits.max()), none_logit)
    exp = np.exp(logits - top)
    return exp / (exp.sum() + np.exp(none_logit - top))
