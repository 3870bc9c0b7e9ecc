"""Is the NLU split score held back by DIET or by the data? Linear models on the same features.

Trains scikit-learn classifiers in place of DIET on the very splits that
``benchmarks/nlu/intents.py`` draws (80/20 by template, seeds 42, 43, …; the test side with a
folded copy of every accented message) and scores them the same way (macro-F1 over true and
predicted labels, chitchat sub-intents as ``chitchat``, the intent guard applied).
Features mirror the Rasa pipeline (``bot/config.yml``): folded, de-slanged words and word
pairs, folded character n-grams and the words as typed, tf-idf weighted. Seconds per draw
instead of minutes, so it is also a quick proxy for data changes.

    .venv/bin/python -m benchmarks.nlu.linear [--draws 3] [--e5 WEIGHT [--restore]]

``--e5`` adds multilingual-e5-small sentence vectors (the search model, "query: " prefix,
times WEIGHT) to the tf-idf features: do pretrained embeddings carry the messages whose words
no training example of their intent uses? ``--restore`` first reads each message as the search
does (``Searcher.interpret``: chat spellings expanded, diacritics put back when it was typed
without them).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from scipy.sparse import csr_matrix, hstack
from sklearn.calibration import CalibratedClassifierCV
from sklearn.linear_model import LogisticRegression
from sklearn.svm import LinearSVC

from benchmarks.common import REPO, publish
from benchmarks.nlu.intents import (
    NLU_DIR,
    QUESTION_SETS,
    SEED,
    accented,
    questions,
    scores,
    split,
    with_folded_copies,
)
from scripts.nlu_data import load, plain

sys.path.insert(0, str(REPO / "bot"))  # Rasa's addons/ (these two need no Rasa)
from addons.intent_features import featurizers  # noqa: E402
from addons.intent_rules import final_intent  # noqa: E402


def label(intent: str) -> str:
    return "chitchat" if intent.startswith("chitchat/") else intent


def flatten(examples: dict[str, list[str]]) -> tuple[list[str], list[str]]:
    texts = [plain(e) for exs in examples.values() for e in exs]
    labels = [label(i) for i, exs in examples.items() for _ in exs]
    return texts, labels


class SentenceVectors:
    """e5 query vectors of messages, each encoded once."""

    def __init__(self, weight: float, restore: bool) -> None:
        from knowledge import Searcher

        self.searcher = Searcher()
        self.weight, self.restore = weight, restore
        self.memo: dict[str, np.ndarray] = {}

    def __call__(self, texts: list[str]) -> csr_matrix:
        for t in texts:
            if t not in self.memo:
                s = self.searcher
                text = s.interpret(t).restored if self.restore else t
                self.memo[t] = s.encoder.encode_query(text)[0]
        return csr_matrix(self.weight * np.stack([self.memo[t] for t in texts]))


def fit(train: dict[str, list[str]], make, vectors: SentenceVectors | None):
    """The features fitted on ``train`` and a model trained on them; returns a predictor."""
    x_train, y_train = flatten(train)
    feats = featurizers()
    a = [f.fit_transform(x_train) for f in feats]
    if vectors is not None:
        a.append(vectors(x_train))
    model = make().fit(hstack(a).tocsr(), y_train)

    def predict(texts: list[str]) -> list[str]:
        t = [f.transform(texts) for f in feats]
        if vectors is not None:
            t.append(vectors(texts))
        # what addons.intent_guard does after the classifier, with the same rules
        return [final_intent(p, x) for x, p in zip(texts, model.predict(hstack(t).tocsr()))]

    return predict


def draw(examples: dict[str, list[str]], seed: int, make,
         vectors: SentenceVectors | None = None) -> tuple[float, float]:
    train, test = split(examples, seed)
    x_test, y_test = flatten(with_folded_copies(test))
    predicted = fit(train, make, vectors)(x_test)
    # benchmarks/nlu/intents.py's metric, on rows shaped like `rasa test nlu`'s
    return scores([{"intent": y, "intent_prediction": {"name": p}}
                   for y, p in zip(y_test, predicted)])


def questions_kept(examples: dict[str, list[str]], make,
                   vectors: SentenceVectors | None) -> dict[str, str]:
    """With the model trained on all data (as shipped), how many of the colloquial and the
    legal dev questions it reads as ``ask_policy``, accented / folded: the check a data
    round that teaches "a situation is a complaint" can fail while the split improves."""
    predict = fit(examples, make, vectors)
    kept = {}
    for name, path in QUESTION_SETS.items():
        if not path.exists():
            continue
        texts = [plain(t) for t in questions(path)["ask_policy"]]
        hits = [p == "ask_policy" for p in predict(texts)]
        marks = [accented(t) for t in texts]
        acc = sum(h for h, m in zip(hits, marks) if m)
        folded = sum(h for h, m in zip(hits, marks) if not m)
        kept[name] = f"{acc} / {folded} of {sum(marks)}"
    return kept


MODELS = {
    "LinearSVC C=0.3": lambda: LinearSVC(C=0.3, class_weight="balanced"),
    "LinearSVC C=1": lambda: LinearSVC(C=1.0, class_weight="balanced"),
    "logistic regression C=10": lambda: LogisticRegression(C=10, max_iter=3000,
                                                           class_weight="balanced"),
    "logistic regression C=30": lambda: LogisticRegression(C=30, max_iter=3000,
                                                           class_weight="balanced"),
    "logistic regression C=100": lambda: LogisticRegression(C=100, max_iter=5000,
                                                            class_weight="balanced"),
    # LinearSVC with probabilities (sigmoid per class, fitted on 3 folds), as a Rasa component
    # needs them for FallbackClassifier
    "LinearSVC C=1, calibrated": lambda: CalibratedClassifierCV(
        LinearSVC(C=1.0, class_weight="balanced"), cv=3, method="sigmoid"),
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--draws", type=int, default=3, metavar="N")
    ap.add_argument("--e5", type=float, default=0.0, metavar="WEIGHT")
    ap.add_argument("--restore", action="store_true")
    ap.add_argument("--extra", type=Path, nargs="+", default=[], metavar="YML",
                    help="thêm dữ liệu NLU (trước khi chia) để đo một đợt dữ liệu")
    ap.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    args = ap.parse_args()
    if args.restore and not args.e5:
        ap.error("--restore chỉ dùng cùng --e5")
    vectors = SentenceVectors(args.e5, args.restore) if args.e5 else None
    examples, _ = load(sorted(NLU_DIR.glob("*.yml")) + args.extra)
    seeds = range(SEED, SEED + args.draws)
    rows = []
    for name in args.models:
        make = MODELS[name]
        results = [draw(examples, seed, make, vectors) for seed in seeds]
        f1s = [f for f, _ in results]
        if vectors is not None:
            name += f" + e5 ×{args.e5}" + (" (restored)" if args.restore else "")
        if args.extra:
            name += " + " + ", ".join(p.name for p in args.extra)
        rows.append({"model": name,
                     "split macro-F1 by draw": " / ".join(f"{f:.3f}" for f in f1s),
                     "mean": f"{np.mean(f1s):.3f}",
                     "acc mean": f"{np.mean([a for _, a in results]):.3f}",
                     **questions_kept(examples, make, vectors)})
        print(rows[-1], file=sys.stderr, flush=True)
    publish(("nlu_linear" if vectors is None else "nlu_linear_e5")
            + ("_extra" if args.extra else ""), rows)


if __name__ == "__main__":
    main()
