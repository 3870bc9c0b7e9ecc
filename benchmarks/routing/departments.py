"""Department routing: top-1 accuracy, auto-routed coverage and precision per labelled set.

Coverage: the share of items routed automatically (confidence ≥ threshold). Precision: the
share of those whose department is right. The dev set tunes the threshold; the test set
was written after the router was done and is never tuned on. "(không dấu)" rows are the
same messages with every diacritic stripped. The cross-validation row routes each item of
examples + dev with a bank built from the other four fifths (shipped weights).

    .venv/bin/python -m benchmarks.routing.departments         # measure, print, save the results
    .venv/bin/python -m benchmarks.routing.departments --tune  # refit weights and threshold first
"""

from __future__ import annotations

import argparse
import json
import random
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize

from benchmarks.common import DATA, REPO, fold, publish, save, table
from feedback_api.departments import routing as R
from feedback_api.departments.routing_keywords import folded_words
from knowledge import DiacriticRestorer, Encoder, default_lexicon, laws_file, read_phrases
from knowledge.sources import extra_laws_file
from vietnamese import is_unaccented, normalize

SETS = {
    "dev": DATA / "routing-dev.json",
    "test": DATA / "routing-test.json",
    # questions no article answers, labelled with the department that would answer them: what
    # the router does with a question the assistant forwards because it could not answer it
    "out-of-coverage": DATA / "out-of-coverage-dev.json",
}
THRESHOLD_PATH = R.DATA / "threshold.json"
TARGET_PRECISION = 0.95
NONE = -1


@dataclass
class Rows:
    """Stacked per-department features of many items, and their labels (NONE: no department)."""

    knn: np.ndarray
    mandate: np.ndarray
    lexical: np.ndarray
    keywords: np.ndarray
    labels: np.ndarray


def stack(features: list[R.Features], labels: list[int]) -> Rows:
    return Rows(
        knn=np.stack([f.knn for f in features]),
        mandate=np.stack([f.mandate for f in features]),
        lexical=np.stack([f.lexical for f in features]),
        keywords=np.stack([f.keywords for f in features]),
        labels=np.array(labels),
    )


def tuning_rows(router: R.DepartmentClassifier, dev: list[dict]) -> Rows:
    """Features of every dev item, as written and accent-folded, + the not_feedback texts.

    The weights are fitted on dev rather than on the examples: the examples are the kNN
    bank and inspired the keyword lists, so on them every signal looks better than it is.
    """
    feats, labels = [], []
    for item in dev:
        for text in (item["text"], fold(item["text"])):
            feats.append(router.features(text))
            labels.append(router.codes.index(item["department"]))
    raw = json.loads((R.DATA / "examples.json").read_text(encoding="utf-8"))
    for text in raw.get("not_feedback", []):
        feats.append(router.features(text))
        labels.append(NONE)
    return stack(feats, labels)


def neg_log_likelihood(params: np.ndarray, rows: Rows) -> float:
    a, b, c, d, z = params
    logits = a * rows.knn + b * rows.mandate + c * rows.lexical + d * rows.keywords
    full = np.concatenate([logits, np.full((len(logits), 1), z)], axis=1)
    top = full.max(axis=1, keepdims=True)
    log_norm = (top + np.log(np.exp(full - top).sum(axis=1, keepdims=True)))[:, 0]
    picked = np.where(rows.labels == NONE, z, logits[np.arange(len(logits)), rows.labels])
    return float((log_norm - picked).mean() + 1e-4 * (params[:4] ** 2).sum())


def fit_weights(rows: Rows) -> R.Weights:
    start = np.array([10.0, 5.0, 5.0, 2.0, 16.0])
    res = minimize(neg_log_likelihood, start, args=(rows,), method="L-BFGS-B")
    a, b, c, d, z = res.x
    return R.Weights(knn=a, mandate=b, lexical=c, keywords=d, none=z)


def load_set(name: str) -> list[dict]:
    path = SETS[name]
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else []


def decisions(
    router: R.DepartmentClassifier, items: list[dict]
) -> list[tuple[R.RoutingDecision, str]]:
    return [(router.route(it["text"]), it["department"]) for it in items]


def tune_threshold(scored: list[tuple[float, bool]], *, min_auto: int = 20) -> float:
    """The confidence cut that auto-routes the most items at precision ≥ TARGET_PRECISION
    (cuts that keep fewer than ``min_auto`` items are too noisy to judge)."""
    ranked = sorted(scored, key=lambda s: -s[0])
    best = 1.0
    right = 0
    for i, (conf, ok) in enumerate(ranked, start=1):
        right += ok
        if i >= min_auto and right / i >= TARGET_PRECISION:
            best = conf
    return float(best)


def summary(name: str, results: list[tuple[R.RoutingDecision, str]]) -> dict:
    n = len(results)
    top1 = sum(d.predicted == gold for d, gold in results)
    top3 = sum(gold in [a.department for a in d.alternatives] for d, gold in results)
    auto = [(d, gold) for d, gold in results if d.auto_routed]
    right = sum(d.department == gold for d, gold in auto)
    return {
        "set": name,
        "n": n,
        "top-1": f"{top1 / n:.3f}",
        "top-3": f"{top3 / n:.3f}",
        "auto-routed (coverage)": f"{len(auto) / n:.3f}",
        "precision when auto": f"{right / len(auto):.3f}" if auto else "–",
    }


def per_department(results: dict[str, list[tuple[R.RoutingDecision, str]]]) -> list[dict]:
    counts: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0]))
    for name, rows in results.items():
        for d, gold in rows:
            counts[gold][name][0] += d.predicted == gold
            counts[gold][name][1] += 1
    return [
        {"department": code, **{f"{n} top-1": f"{r}/{t}" for n, (r, t) in sets.items()}}
        for code, sets in sorted(counts.items())
    ]


def cross_validation(router: R.DepartmentClassifier, dev: list[dict], *, folds: int = 5) -> dict:
    """5-fold top-1 over examples + dev, each fold routed with a bank of the others."""
    items = [(t, c) for t, c in R.load_examples()] + [(d["text"], d["department"]) for d in dev]
    texts = [t for t, _ in items]
    vecs = R._encode(router.encoder, texts + [folded_words(t) for t in texts])
    depts = np.array([router.codes.index(c) for _, c in items])
    order = list(range(len(items)))
    random.Random(7).shuffle(order)
    right = 0
    for k in range(folds):
        held = set(order[k::folds])
        bank = [i for i in range(len(items)) if i not in held]
        router.example_vecs = np.concatenate([vecs[bank], vecs[[i + len(items) for i in bank]]])
        router.example_dept = np.concatenate([depts[bank], depts[bank]])
        router.lexical_matrix = router.tfidf.fit_transform([folded_words(texts[i]) for i in bank])
        router.lexical_dept = depts[bank]
        for i in held:
            right += router.route(texts[i]).predicted == items[i][1]
    return {
        "set": f"cv {folds}-fold (examples+dev)",
        "n": len(items),
        "top-1": f"{right / len(items):.3f}",
    }


def corpus_restore() -> Callable[[str], str]:
    """What the API passes as ``restore`` (Searcher.interpret(text).restored), rebuilt
    without an index: chat spellings expanded, then diacritics restored by a restorer
    fitted on the law corpus and everyday phrases, as the index build does."""
    laws = [law for path in (laws_file(), extra_laws_file())
            for law in json.loads(path.read_text(encoding="utf-8"))]
    texts = [article["text"] for law in laws for article in law["articles"]]
    restorer = DiacriticRestorer.fit(texts, extra_texts=read_phrases())
    lexicon = default_lexicon()

    def restore(text: str) -> str:
        plain = lexicon.expand_abbreviations(normalize(text))
        return restorer.restore(plain) if is_unaccented(plain) else plain

    return restore


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tune", action="store_true", help="refit weights and threshold")
    args = parser.parse_args()
    encoder = Encoder(REPO / "models" / "multilingual-e5-small")
    router = R.DepartmentClassifier.default(encoder)
    dev = load_set("dev")
    if args.tune:
        weights = fit_weights(tuning_rows(router, dev))
        router.weights, router.threshold = weights, 0.0
        scored = [(d.confidence, d.predicted == gold) for d, gold in decisions(router, dev)]
        threshold = tune_threshold(scored)
        router.threshold = threshold
        write_tuning(weights, threshold, n_dev=len(dev))
        print(f"weights {weights}\nthreshold {threshold:.3f}")
    results = {"dev": decisions(router, dev)}
    results["dev (không dấu)"] = decisions(router, [{**d, "text": fold(d["text"])} for d in dev])
    test = load_set("test")
    if test:
        results["test"] = decisions(router, test)
        results["test (không dấu)"] = decisions(
            router, [{**d, "text": fold(d["text"])} for d in test]
        )
    ooc = load_set("out-of-coverage")
    if ooc:
        results["out-of-coverage questions"] = decisions(router, ooc)
    router.restore = corpus_restore()
    for name, items in (("dev", dev), ("test", test)):
        if items:
            folded = [{**d, "text": fold(d["text"])} for d in items]
            results[f"{name} (không dấu, khôi phục dấu)"] = decisions(router, folded)
    router.restore = None
    rows = [summary(name, res) for name, res in results.items()]
    rows.append({**rows[0], **cross_validation(router, dev)})
    for key in ("top-3", "auto-routed (coverage)", "precision when auto"):
        rows[-1][key] = "–"
    print(f"threshold {router.threshold:.3f}")
    publish("routing", rows)
    departments = per_department({k: v for k, v in results.items()
                                  if "dấu" not in k and "coverage" not in k})
    print()
    print(table(departments, list(departments[0])))
    save("routing-departments", departments)


def write_tuning(weights: R.Weights, threshold: float, *, n_dev: int) -> None:
    doc = {
        "threshold": round(threshold, 4),
        "weights": {
            "knn": round(weights.knn, 4),
            "mandate": round(weights.mandate, 4),
            "lexical": round(weights.lexical, 4),
            "keywords": round(weights.keywords, 4),
            "none": round(weights.none, 4),
        },
        "how": (
            "Weights: conditional logit (softmax over departments plus a constant 'none' "
            "logit) fitted by maximum likelihood on the dev set "
            f"(benchmarks/data/routing-dev.json, {n_dev} items, each as written and "
            "accent-folded; the kNN bank is examples.json) plus the not_feedback texts of "
            "examples.json as 'none'. Threshold: on the dev set as written, the confidence "
            "cut that auto-routes the most items while precision among auto-routed items "
            f"stays >= {TARGET_PRECISION} (cuts keeping fewer than 20 items ignored). "
            "routing-test.json is never used here. "
            "Regenerate: .venv/bin/python -m benchmarks.routing.departments --tune"
        ),
    }
    THRESHOLD_PATH.write_text(json.dumps(doc, ensure_ascii=False, indent=1) + "\n")


if __name__ == "__main__":
    main()
