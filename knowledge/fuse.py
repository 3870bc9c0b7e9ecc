"""Fusing BM25 and dense scores, and deciding whether the result can be trusted.

Linear fusion of min-max normalised scores measured better than reciprocal rank
fusion here (docs/figures.md). The ``confident`` flag comes from a logistic
model over a few signals of the ranking, fitted by ``python -m knowledge calibrate``
on questions with known answers and on questions the corpus cannot answer.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

CALIBRATION_FILE = Path(__file__).parent / "data" / "calibration.json"


def minmax(scores: np.ndarray) -> np.ndarray:
    """Scale to [0, 1]; a constant vector becomes all zeros."""
    if scores.size == 0:
        return scores
    low, high = float(scores.min()), float(scores.max())
    if high - low < 1e-9:
        return np.zeros_like(scores)
    return (scores - low) / (high - low)


def linear_fusion(parts: Sequence[tuple[np.ndarray, float]]) -> np.ndarray:
    """Weighted sum of min-max normalised score vectors over the same candidates."""
    total = np.zeros_like(parts[0][0], dtype=np.float64)
    for scores, weight in parts:
        if weight:
            total += weight * minmax(np.asarray(scores, dtype=np.float64))
    return total


def rrf(rank_lists: Sequence[Sequence[int]], *, k: int = 60) -> dict[int, float]:
    """Reciprocal rank fusion, kept for comparison in the benchmarks."""
    fused: dict[int, float] = {}
    for ranking in rank_lists:
        for rank, item in enumerate(ranking):
            fused[item] = fused.get(item, 0.0) + 1.0 / (k + rank + 1)
    return fused


@dataclass(frozen=True)
class Signals:
    """What the ranking looks like, as inputs to the confidence model."""

    top_dense: float  # cosine of the best passage to the query
    top_sparse: float  # best BM25 score divided by the query's own term count
    margin: float  # fused score gap between the first and second article
    agree: float  # 1.0 when BM25 and dense put the same article first
    # 0 when the ranking used the statute weights, 1 the citizen weights (search.Tuning.gate):
    # the same margin or BM25 score means something else in the two rankings
    gate: float = 0.0

    def vector(self) -> list[float]:
        """The four signals, the gate, and each signal times the gate."""
        plain = [self.top_dense, self.top_sparse, self.margin, self.agree]
        return [*plain, self.gate, *(x * self.gate for x in plain)]


@dataclass(frozen=True)
class Calibration:
    """Logistic model: P(top answer is right) = sigmoid(w . signals + bias)."""

    weights: tuple[float, ...]
    bias: float
    threshold: float
    fitted_on: str = ""

    def probability(self, signals: Signals) -> float:
        z = self.bias + sum(w * x for w, x in zip(self.weights, signals.vector()))
        return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))

    def confident(self, signals: Signals) -> bool:
        return self.probability(signals) >= self.threshold

    def save(self, path: Path = CALIBRATION_FILE) -> None:
        path.write_text(json.dumps(asdict(self), indent=2, ensure_ascii=False) + "\n")

    @classmethod
    def load(cls, path: Path = CALIBRATION_FILE) -> Calibration:
        if not path.exists():  # before the first calibration: trust strong cosines only
            return cls(weights=(12.0, 0.0, 0.0, 0.0), bias=-10.2, threshold=0.5)
        data = json.loads(path.read_text())
        data["weights"] = tuple(data["weights"])
        return cls(**data)


def fit_calibration(
    signals: Sequence[Signals],
    correct: Sequence[bool],
    *,
    answerable: Sequence[bool] | None = None,
    target_precision: float = 0.9,
    max_false_alarms: float = 0.05,
) -> Calibration:
    """Fit the logistic model; pick the lowest threshold that reaches the target precision and
    flags at most ``max_false_alarms`` of the questions the corpus cannot answer
    (``answerable`` False; an answer to one of those is wrong however good it looks).

    The threshold is chosen on 5-fold cross-validated probabilities, so what it promises is
    measured on questions the model did not see while fitting.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_predict

    x = np.array([s.vector() for s in signals])
    y = np.array(correct, dtype=int)
    unanswerable = ~np.array(answerable if answerable is not None else [True] * len(y), bool)
    model = LogisticRegression(C=1.0, max_iter=1000)
    probs = cross_val_predict(model, x, y, cv=5, method="predict_proba")[:, 1]
    threshold, precision, coverage, alarms = 0.99, 0.0, 0.0, 0.0
    for t in np.unique(np.round(probs, 3)):
        chosen = probs >= t
        false_alarms = chosen[unanswerable].mean() if unanswerable.any() else 0.0
        if chosen.any() and y[chosen].mean() >= target_precision \
                and false_alarms <= max_false_alarms:
            threshold, precision, coverage = float(t), y[chosen].mean(), chosen.mean()
            alarms = false_alarms
            break
    model.fit(x, y)
    out_of_scope = (f", {alarms:.0%} of {int(unanswerable.sum())} out-of-scope flagged"
                    if unanswerable.any() else "")
    return Calibration(
        weights=tuple(float(w) for w in model.coef_[0]),
        bias=float(model.intercept_[0]),
        threshold=threshold,
        fitted_on=(
            f"{len(y)} questions ({int(y.sum())} right at rank 1); cross-validated: "
            f"precision {precision:.2f} when confident, {coverage:.0%} confident{out_of_scope}"
        ),
    )
