"""Fitting the diacritic restorer's syllable n-gram model (:mod:`knowledge.diacritics`).

Texts are cut into sentence-like segments of lower-cased syllables; n-grams are counted
per segment (padded with <s> and </s>) and smoothed with interpolated modified Kneser-Ney.
The corpus and the optional everyday phrases get a model each, linearly interpolated; rare
corpus n-grams are pruned, backoff weights renormalised over what is kept, and everything is
keyed by integer ids (an n-gram's ids as digits in base vocabulary size) in log10: the
ARPA-style tables :class:`~knowledge.diacritics.DiacriticRestorer` decodes with.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator

from vietnamese import normalize

BOS = "<s>"
EOS = "</s>"
UNK = "<unk>"
NUM = "<num>"
SPECIAL = (BOS, EOS, UNK, NUM)

WORD = re.compile(r"\w+", re.UNICODE)
# Sentence-like segments: the model never looks across these boundaries.
SEGMENT = re.compile(r"[^\n.;:?!…]+")

Ngrams = list[dict[tuple[str, ...], float]]  # per order: n-gram tuple -> value
Tables = list[dict[int, float]]  # per order: integer n-gram key -> log10 value


def segments(text: str) -> Iterator[list[str]]:
    """Lower-cased, normalised syllable sequences of each sentence-like segment."""
    for match in SEGMENT.finditer(normalize(text)):
        toks = [NUM if t.isdigit() else t for t in WORD.findall(match.group().lower())]
        if toks:
            yield toks


def fit_tables(
    texts: Iterable[str],
    extra_texts: Iterable[str],
    extra_weight: float,
    order: int,
    min_counts: tuple[int, ...],
) -> tuple[list[str], list[int], Tables, Tables]:
    """Vocabulary, unigram counts, n-gram log-probabilities and backoff weights of the model
    of ``texts`` and ``extra_texts`` (see :meth:`DiacriticRestorer.fit`)."""
    if order < 1 or not 0.0 <= extra_weight < 1.0:
        raise ValueError(f"bad order {order} or extra_weight {extra_weight}")
    corpus, extra = count_ngrams(texts, order), count_ngrams(extra_texts, order)
    if extra_weight == 0:
        extra = [Counter() for _ in range(order)]
    sources = [(c, w) for c, w in ((corpus, 1.0 - extra_weight), (extra, extra_weight)) if c[0]]
    if not sources:
        raise ValueError("no text to learn from")
    words = set(SPECIAL).union(*({k[0] for k in c[0]} for c, _ in sources))
    if len(words) ** order >= 2**63:
        raise ValueError("vocabulary too large for int64 n-gram keys at this order")
    models = [(*_kneser_ney(c, len(words)), w) for c, w in sources]
    total = sum(w for _, _, w in models)
    probs = _interpolate([(p, g, w / total) for p, g, w in models], len(words))
    # Rare corpus n-grams are pruned; every n-gram of the extra texts is kept.
    vocab, tables, backoffs = _prune_and_encode(probs, corpus, min_counts, extra)
    uni_counts = [corpus[0].get((w,), 0) + extra[0].get((w,), 0) for w in vocab]
    return vocab, uni_counts, tables, backoffs


def count_ngrams(texts: Iterable[str], order: int) -> list[Counter[tuple[str, ...]]]:
    """Raw n-gram counts (orders 1..order) of ``texts``, segments padded with <s>, </s>."""
    counts: list[Counter[tuple[str, ...]]] = [Counter() for _ in range(order)]
    for text in texts:
        for toks in segments(text):
            for n in range(1, order + 1):
                seq = [BOS] * (n - 1) + toks + [EOS] if n > 1 else toks + [EOS]
                table = counts[n - 1]
                for i in range(len(seq) - n + 1):
                    table[tuple(seq[i : i + n])] += 1
    return counts


def _adjusted_counts(counts: list[Counter[tuple[str, ...]]]) -> Ngrams:
    """Kneser-Ney counts: continuation counts below the top order.

    A lower-order n-gram is counted by how many distinct words precede it, except
    n-grams starting with <s>, which cannot be preceded and keep raw counts.
    """
    order = len(counts)
    adjusted: Ngrams = [{} for _ in range(order)]
    adjusted[-1] = {k: float(v) for k, v in counts[-1].items()}
    for n in range(order - 1, 0, -1):
        cont: Counter[tuple[str, ...]] = Counter(k[1:] for k in counts[n])
        table = adjusted[n - 1]
        for key, raw in counts[n - 1].items():
            table[key] = float(raw) if key[0] == BOS else float(cont.get(key, raw))
    adjusted[0].pop((BOS,), None)
    return adjusted


def _discounts(table: dict[tuple[str, ...], float]) -> tuple[float, float, float]:
    """Modified Kneser-Ney discounts D1, D2, D3+ from counts of counts."""
    n = Counter(min(round(c), 4) for c in table.values())
    n1, n2, n3, n4 = (max(n.get(i, 0), 1) for i in (1, 2, 3, 4))
    y = n1 / (n1 + 2 * n2)
    d1 = max(min(1 - 2 * y * n2 / n1, 0.95), 0.05)
    d2 = max(min(2 - 3 * y * n3 / n2, 1.95), 0.05)
    d3 = max(min(3 - 4 * y * n4 / n3, 2.95), 0.05)
    return d1, d2, d3


def _kneser_ney(counts: list[Counter[tuple[str, ...]]], vsize: int) -> tuple[Ngrams, Ngrams]:
    """Interpolated modified Kneser-Ney: P(w | h) of every observed n-gram, and the
    interpolation (backoff) weight of every observed context h, per order."""
    probs: Ngrams = []
    gammas: Ngrams = []
    for table in _adjusted_counts(counts):
        d = _discounts(table)
        totals: defaultdict[tuple[str, ...], float] = defaultdict(float)
        mass: defaultdict[tuple[str, ...], float] = defaultdict(float)
        for key, c in table.items():
            totals[key[:-1]] += c
            mass[key[:-1]] += d[min(round(c), 3) - 1]
        gamma = {h: mass[h] / totals[h] for h in totals}
        lower = probs[-1] if probs else None
        level: dict[tuple[str, ...], float] = {}
        for key, c in table.items():
            low = lower[key[1:]] if lower is not None else 1.0 / vsize
            disc = d[min(round(c), 3) - 1]
            level[key] = max(c - disc, 0.0) / totals[key[:-1]] + gamma[key[:-1]] * low
        probs.append(level)
        gammas.append(gamma)
    return probs, gammas


def _backoff_prob(probs: Ngrams, gammas: Ngrams, ngram: tuple[str, ...], vsize: int) -> float:
    """P(last word | the others) under one model, backing off as far as needed."""
    bow = 1.0
    for start in range(len(ngram)):
        suffix = ngram[start:]
        p = probs[len(suffix) - 1].get(suffix)
        if p is not None:
            return bow * p
        bow *= gammas[len(suffix) - 1].get(suffix[:-1], 1.0)
    return bow / vsize


def _interpolate(models: list[tuple[Ngrams, Ngrams, float]], vsize: int) -> Ngrams:
    """Sum of weight * P_model on the union of the models' n-grams."""
    mixed: Ngrams = []
    for n in range(len(models[0][0])):
        keys = set().union(*(probs[n].keys() for probs, _, _ in models))
        mixed.append(
            {k: sum(w * _backoff_prob(p, g, k, vsize) for p, g, w in models) for k in keys}
        )
    return mixed


def _renormalized_backoffs(
    kept: dict[tuple[str, ...], float], lower: dict[tuple[str, ...], float]
) -> dict[tuple[str, ...], float]:
    """Backoff weights that keep P(. | h) summing to one over kept n-grams.

    bow(h) = (1 - sum of kept P(w | h)) / (1 - sum of P_lower(w | h') over the same
    w). For one unpruned model this is the Kneser-Ney interpolation weight; it also
    holds after pruning and after interpolating two models. Contexts left out of
    the result (all their mass kept) back off with weight 1.
    """
    seen: defaultdict[tuple[str, ...], float] = defaultdict(float)
    low: defaultdict[tuple[str, ...], float] = defaultdict(float)
    for key, p in kept.items():
        seen[key[:-1]] += p
        low[key[:-1]] += lower[key[1:]]
    return {
        h: max(1.0 - seen[h], 1e-12) / max(1.0 - low[h], 1e-12)
        for h in seen
        if 1.0 - seen[h] > 1e-12
    }


def _prune_and_encode(
    probs: Ngrams,
    counts: list[Counter[tuple[str, ...]]],
    min_counts: tuple[int, ...],
    protected: list[Counter[tuple[str, ...]]],
) -> tuple[list[str], list[dict[int, float]], list[dict[int, float]]]:
    """Drop n-grams (order >= 2) seen fewer than ``min_counts[n-1]`` times in
    ``counts`` and absent from ``protected``, recompute backoff weights, key
    everything by integer ids, store log10 values."""
    vocab = list(SPECIAL) + sorted(k[0] for k in probs[0] if k[0] not in SPECIAL)
    ids = {w: i for i, w in enumerate(vocab)}
    vsize = len(vocab)
    tables: list[dict[int, float]] = []
    backoffs: list[dict[int, float]] = [{}]
    for n, level in enumerate(probs, start=1):
        floor = min_counts[min(n, len(min_counts)) - 1]
        kept = {
            k: p
            for k, p in level.items()
            if n == 1 or counts[n - 1].get(k, 0) >= floor or k in protected[n - 1]
        }
        tables.append({ngram_key(k, ids, vsize): math.log10(p) for k, p in kept.items()})
        if n > 1:
            bows = _renormalized_backoffs(kept, probs[n - 2])
            backoffs.append({ngram_key(h, ids, vsize): math.log10(b) for h, b in bows.items()})
    return vocab, tables, backoffs



def ngram_key(ngram: tuple[str, ...], ids: dict[str, int], vsize: int) -> int:
    """Integer key of an n-gram: its ids as digits in base ``vsize``."""
    key = 0
    for w in ngram:
        key = key * vsize + ids[w]
    return key
