"""Diacritic restoration for Vietnamese typed without (or with some) marks.

Citizens often write "thu tuc dang ky thuong tru" for "thủ tục đăng ký thường trú".
:class:`DiacriticRestorer` learns from the corpus itself:

* a lexicon: folded syllable ("dang") -> the accented syllables seen for it
  ("đang", "đăng", "dạng", ...);
* a syllable n-gram language model (trigram by default) over accented syllables,
  smoothed with interpolated modified Kneser-Ney. The corpus and an optional
  list of everyday phrases get a model each, linearly interpolated. The result is
  stored in ARPA style: a log-probability per kept n-gram and a backoff weight per
  context.

:meth:`DiacriticRestorer.restore` runs a beam search (exact Viterbi for a bigram
model) over the candidates of each unaccented syllable. Syllables that already
carry marks are kept as typed and serve as context; syllables the model has never
seen are kept as typed; numbers, punctuation, spacing and letter case are kept.

Models are saved as a compressed ``.npz`` of plain arrays (no pickle).
"""

from __future__ import annotations

import heapq
import math
import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from vietnamese import fold, has_diacritics, normalize

EVERYDAY_PATH = Path(__file__).parent / "data" / "everyday_vi.txt"

BOS = "<s>"
EOS = "</s>"
UNK = "<unk>"
NUM = "<num>"
_SPECIAL = (BOS, EOS, UNK, NUM)
_FORMAT_VERSION = 1

_WORD = re.compile(r"\w+", re.UNICODE)
# Sentence-like segments: the model never looks across these boundaries.
_SEGMENT = re.compile(r"[^\n.;:?!…]+")
_UNK_LOGP = -12.0  # log10 probability of a syllable the model has never seen


def read_phrases(path: Path = EVERYDAY_PATH) -> list[str]:
    """Non-empty, non-comment lines of a phrase list (one phrase per line)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return [ln.strip() for ln in lines if ln.strip() and not ln.lstrip().startswith("#")]


def split_segments(text: str) -> list[str]:
    """Sentence-like pieces of ``text`` (split at newlines and . ; : ? ! …)."""
    pieces = (m.group().strip() for m in _SEGMENT.finditer(normalize(text)))
    return [p for p in pieces if _WORD.search(p)]


def _segments(text: str) -> Iterator[list[str]]:
    """Lower-cased, normalised syllable sequences of each sentence-like segment."""
    for match in _SEGMENT.finditer(normalize(text)):
        toks = [NUM if t.isdigit() else t for t in _WORD.findall(match.group().lower())]
        if toks:
            yield toks


Ngrams = list[dict[tuple[str, ...], float]]  # per order: n-gram tuple -> value


def _count_ngrams(texts: Iterable[str], order: int) -> list[Counter[tuple[str, ...]]]:
    """Raw n-gram counts (orders 1..order) of ``texts``, segments padded with <s>, </s>."""
    counts: list[Counter[tuple[str, ...]]] = [Counter() for _ in range(order)]
    for text in texts:
        for toks in _segments(text):
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
    vocab = list(_SPECIAL) + sorted(k[0] for k in probs[0] if k[0] not in _SPECIAL)
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
        tables.append({_key(k, ids, vsize): math.log10(p) for k, p in kept.items()})
        if n > 1:
            bows = _renormalized_backoffs(kept, probs[n - 2])
            backoffs.append({_key(h, ids, vsize): math.log10(b) for h, b in bows.items()})
    return vocab, tables, backoffs


class DiacriticRestorer:
    """Syllable n-gram model that puts Vietnamese diacritics back on folded text."""

    def __init__(
        self,
        vocab: list[str],
        unigram_counts: list[int],
        tables: list[dict[int, float]],
        backoffs: list[dict[int, float]],
        beam: int = 12,
    ) -> None:
        """Build from id-keyed tables; use :meth:`fit` or :meth:`load` instead."""
        self.vocab = vocab
        self.counts = unigram_counts
        self.order = len(tables)
        self.beam = beam
        self._ids = {w: i for i, w in enumerate(vocab)}
        self._v = len(vocab)
        self._uni = [tables[0].get(i, _UNK_LOGP) for i in range(self._v)]
        self._tables = tables
        self._backoffs = backoffs
        self._cands = self._build_candidates()

    def _build_candidates(self) -> dict[str, list[int]]:
        """Folded syllable -> ids of its accented forms, most frequent first."""
        cands: defaultdict[str, list[int]] = defaultdict(list)
        for i, w in enumerate(self.vocab):
            if w not in _SPECIAL and self.counts[i] > 0:
                cands[fold(w)].append(i)
        return {k: sorted(v, key=lambda i: -self.counts[i]) for k, v in cands.items()}

    # ------------------------------------------------------------------ fitting

    @classmethod
    def fit(
        cls,
        texts: Iterable[str],
        extra_texts: Iterable[str] = (),
        extra_weight: float = 0.3,
        order: int = 3,
        min_counts: tuple[int, ...] = (1, 1, 2),
        beam: int = 12,
    ) -> DiacriticRestorer:
        """Learn the lexicon and an n-gram model from accented texts.

        ``texts`` (the corpus) and ``extra_texts`` (e.g. :func:`read_phrases`,
        everyday words that statutes lack) get one Kneser-Ney model each; the two
        are linearly interpolated, ``extra_weight`` being the share of the extra
        model. ``min_counts[n-1]`` drops n-grams of order n >= 2 seen fewer times
        in ``texts`` (those of ``extra_texts`` are all kept), which keeps the saved
        model small; ``beam`` is the decoder's beam width.
        """
        if order < 1 or not 0.0 <= extra_weight < 1.0:
            raise ValueError(f"bad order {order} or extra_weight {extra_weight}")
        corpus, extra = _count_ngrams(texts, order), _count_ngrams(extra_texts, order)
        if extra_weight == 0:
            extra = [Counter() for _ in range(order)]
        sources = [(c, w) for c, w in ((corpus, 1.0 - extra_weight), (extra, extra_weight)) if c[0]]
        if not sources:
            raise ValueError("no text to learn from")
        words = set(_SPECIAL).union(*({k[0] for k in c[0]} for c, _ in sources))
        if len(words) ** order >= 2**63:
            raise ValueError("vocabulary too large for int64 n-gram keys at this order")
        models = [(*_kneser_ney(c, len(words)), w) for c, w in sources]
        total = sum(w for _, _, w in models)
        probs = _interpolate([(p, g, w / total) for p, g, w in models], len(words))
        # Rare corpus n-grams are pruned; every n-gram of the extra texts is kept.
        vocab, tables, backoffs = _prune_and_encode(probs, corpus, min_counts, extra)
        uni_counts = [corpus[0].get((w,), 0) + extra[0].get((w,), 0) for w in vocab]
        return cls(vocab, uni_counts, tables, backoffs, beam=beam)

    # ---------------------------------------------------------------- restoring

    def restore(self, text: str) -> str:
        """Put diacritics back on unaccented syllables; everything else is kept.

        The text is NFC-normalised; spacing, punctuation, numbers and letter case
        are preserved. Accented syllables are kept as typed (and used as context);
        syllables unknown to the model stay as typed.
        """
        text = unicodedata.normalize("NFC", text)
        out: list[str] = []
        last = 0
        for seg in _SEGMENT.finditer(text):
            matches = list(_WORD.finditer(seg.group()))
            if not matches:
                continue
            chosen = self._restore_tokens([m.group() for m in matches])
            for m, word in zip(matches, chosen, strict=True):
                start, end = seg.start() + m.start(), seg.start() + m.end()
                out.append(text[last:start])
                out.append(word)
                last = end
        out.append(text[last:])
        return "".join(out)

    def restore_words(self, tokens: list[str]) -> list[str]:
        """Restore a list of syllables (one segment); same rules as :meth:`restore`."""
        return self._restore_tokens(tokens)

    def _restore_tokens(self, tokens: list[str]) -> list[str]:
        """Candidates per token, decode, then copy the original letter case."""
        options: list[list[int]] = []
        free: list[bool] = []
        for tok in tokens:
            low = tok.lower()
            if low.isdigit():
                options.append([self._ids[NUM]])
                free.append(False)
            elif has_diacritics(tok) or low not in self._cands:
                key = normalize(low)
                options.append([self._ids.get(key, self._ids[UNK])])
                free.append(False)
            else:
                options.append(self._cands[low])
                free.append(True)
        best = self._decode(options)
        return [
            _copy_case(tok, self.vocab[i]) if is_free else tok
            for tok, i, is_free in zip(tokens, best, free, strict=True)
        ]

    def _decode(self, options: list[list[int]]) -> list[int]:
        """Beam search over candidate ids; exact Viterbi when order == 2."""
        bos = self._ids[BOS]
        uni = self._uni
        beam: dict[tuple[int, ...], tuple[float, tuple | None]] = {
            (bos,) * max(self.order - 1, 1): (0.0, None)
        }
        for opts in [*options, [self._ids[EOS]]]:
            grown: dict[tuple[int, ...], tuple[float, tuple | None]] = {}
            for state, (score, back) in beam.items():
                levels, floor = self._levels(state)
                for w in opts:
                    for table, base, bow in levels:
                        lp = table.get(base + w)
                        if lp is not None:
                            s = score + bow + lp
                            break
                    else:
                        s = score + floor + uni[w]
                    nxt = (*state[1:], w)
                    old = grown.get(nxt)
                    if old is None or s > old[0]:
                        grown[nxt] = (s, (back, w))
            if len(grown) > self.beam:
                grown = dict(heapq.nlargest(self.beam, grown.items(), key=lambda kv: kv[1][0]))
            beam = grown
        _, back = max(beam.values(), key=lambda v: v[0])
        path: list[int] = []
        while back is not None:
            back, w = back
            path.append(w)
        return path[::-1][:-1]

    def _levels(
        self, context: tuple[int, ...]
    ) -> tuple[list[tuple[dict[int, float], int, float]], float]:
        """Lookups for P(. | context), longest context first.

        Each level is (table, key base, accumulated log10 backoff): P(w | context)
        is ``bow + table[base + w]`` at the first level that holds the key, else
        ``floor + unigram[w]``.
        """
        v = self._v
        keys: list[int] = []
        key, scale = 0, 1
        for i in reversed(context[-(self.order - 1) :] if self.order > 1 else ()):
            key += i * scale
            scale *= v
            keys.append(key)
        levels: list[tuple[dict[int, float], int, float]] = []
        bow = 0.0
        for n in range(len(keys), 0, -1):
            levels.append((self._tables[n], keys[n - 1] * v, bow))
            bow += self._backoffs[n].get(keys[n - 1], 0.0)
        return levels, bow

    def logp(self, context: tuple[int, ...], w: int) -> float:
        """log10 P(w | context) with ARPA-style backoff; ``context`` is ids, oldest first."""
        levels, floor = self._levels(context)
        for table, base, bow in levels:
            lp = table.get(base + w)
            if lp is not None:
                return bow + lp
        return floor + self._uni[w]

    # -------------------------------------------------------------- persistence

    def save(self, path: Path) -> None:
        """Write the model as a compressed .npz of plain arrays (no pickle)."""
        arrays: dict[str, np.ndarray] = {
            "meta": np.array([_FORMAT_VERSION, self.order, self.beam], dtype=np.int64),
            "vocab": np.frombuffer("\n".join(self.vocab).encode("utf-8"), dtype=np.uint8),
            "counts": np.array(self.counts, dtype=np.int64),
        }
        for n, (table, bows) in enumerate(zip(self._tables, self._backoffs, strict=True)):
            arrays[f"k{n}"] = np.fromiter(table.keys(), dtype=np.int64, count=len(table))
            arrays[f"p{n}"] = np.fromiter(table.values(), dtype=np.float32, count=len(table))
            arrays[f"bk{n}"] = np.fromiter(bows.keys(), dtype=np.int64, count=len(bows))
            arrays[f"bp{n}"] = np.fromiter(bows.values(), dtype=np.float32, count=len(bows))
        with open(path, "wb") as fh:
            np.savez_compressed(fh, **arrays)

    @classmethod
    def load(cls, path: Path) -> DiacriticRestorer:
        """Read a model written by :meth:`save`."""
        with np.load(path, allow_pickle=False) as data:
            version, order, beam = (int(x) for x in data["meta"])
            if version != _FORMAT_VERSION:
                raise ValueError(f"unsupported diacritics model version {version}")
            vocab = data["vocab"].tobytes().decode("utf-8").split("\n")
            counts = data["counts"].tolist()
            tables = [_as_dict(data[f"k{n}"], data[f"p{n}"]) for n in range(order)]
            bows = [_as_dict(data[f"bk{n}"], data[f"bp{n}"]) for n in range(order)]
        return cls(vocab, counts, tables, bows, beam=beam)


def _as_dict(keys: np.ndarray, values: np.ndarray) -> dict[int, float]:
    """Arrays back into an id-keyed dict of Python floats."""
    return dict(zip(keys.tolist(), values.astype(np.float64).tolist(), strict=True))


def _key(ngram: tuple[str, ...], ids: dict[str, int], vsize: int) -> int:
    """Integer key of an n-gram: its ids as digits in base ``vsize``."""
    key = 0
    for w in ngram:
        key = key * vsize + ids[w]
    return key


def _copy_case(original: str, word: str) -> str:
    """Give ``word`` the letter case of ``original`` (lower, Title or UPPER)."""
    if original.islower():
        return word
    if original.isupper() and len(original) > 1:
        return word.upper()
    if original[:1].isupper():
        return word[:1].upper() + word[1:]
    return word
