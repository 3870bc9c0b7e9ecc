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

Fitting the model is :mod:`knowledge.kneser_ney`; models are saved as a compressed ``.npz``
of plain arrays (no pickle).
"""

from __future__ import annotations

import heapq
import unicodedata
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from knowledge.kneser_ney import BOS, EOS, NUM, SEGMENT, SPECIAL, UNK, WORD, fit_tables
from vietnamese import fold, has_diacritics, normalize

EVERYDAY_PATH = Path(__file__).parent / "data" / "everyday_vi.txt"

_FORMAT_VERSION = 1
_UNK_LOGP = -12.0  # log10 probability of a syllable the model has never seen


def read_phrases(path: Path = EVERYDAY_PATH) -> list[str]:
    """Non-empty, non-comment lines of a phrase list (one phrase per line)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return [ln.strip() for ln in lines if ln.strip() and not ln.lstrip().startswith("#")]


def split_segments(text: str) -> list[str]:
    """Sentence-like pieces of ``text`` (split at newlines and . ; : ? ! …)."""
    pieces = (m.group().strip() for m in SEGMENT.finditer(normalize(text)))
    return [p for p in pieces if WORD.search(p)]


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
            if w not in SPECIAL and self.counts[i] > 0:
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
        vocab, uni_counts, tables, backoffs = fit_tables(
            texts, extra_texts, extra_weight, order, min_counts)
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
        for seg in SEGMENT.finditer(text):
            matches = list(WORD.finditer(seg.group()))
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


def _copy_case(original: str, word: str) -> str:
    """Give ``word`` the letter case of ``original`` (lower, Title or UPPER)."""
    if original.islower():
        return word
    if original.isupper() and len(original) > 1:
        return word.upper()
    if original[:1].isupper():
        return word[:1].upper() + word[1:]
    return word
