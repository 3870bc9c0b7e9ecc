"""Citizens' chat language -> words the statutes use.

Two small lexicons under ``knowledge/data/`` (editable by officials, no code):
``abbreviations.tsv`` replaces chat spellings ("ko", "đc", "vk") by full words;
``legal_terms.tsv`` appends the legal vocabulary for everyday phrases
("nhập khẩu" -> "đăng ký thường trú"). Both match whole words with diacritics
ignored, so they work on text typed without accents too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path

from knowledge.normalize import fold, normalize, words

DATA = Path(__file__).parent / "data"
_TOKEN = re.compile(r"\w+|\W+")


def _read_tsv(path: Path) -> list[tuple[str, str]]:
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            key, value = line.split("\t", 1)
            rows.append((normalize(key), normalize(value)))
    return rows


@dataclass(frozen=True)
class ChatLexicon:
    """Abbreviations keyed by exact lower-case form and by folded form, plus phrases."""

    abbreviations: dict[str, str]
    phrases: dict[tuple[str, ...], str]  # folded words of an everyday phrase -> legal terms

    @cached_property
    def longest(self) -> int:
        """Words in the longest everyday phrase."""
        return max((len(k) for k in self.phrases), default=0)

    @classmethod
    def load(cls, folder: Path = DATA) -> ChatLexicon:
        abbr: dict[str, str] = {}
        for key, value in _read_tsv(folder / "abbreviations.tsv"):
            abbr[key.lower()] = value
            abbr.setdefault(fold(key), value)
        phrases = {tuple(words(fold(k))): v for k, v in _read_tsv(folder / "legal_terms.tsv")}
        return cls(abbr, phrases)

    def expand_abbreviations(self, text: str) -> str:
        """Replace whole-word chat abbreviations; everything else is kept as typed."""
        out = []
        for tok in _TOKEN.findall(normalize(text)):
            low = tok.lower()
            out.append(self.abbreviations.get(low) or self.abbreviations.get(fold(low)) or tok)
        return "".join(out)

    def legal_terms(self, text: str) -> list[str]:
        """Legal phrases for the everyday phrases found in ``text`` (no duplicates)."""
        toks = words(fold(text))
        found: list[str] = []
        for start in range(len(toks)):
            for n in range(1, min(self.longest, len(toks) - start) + 1):
                terms = self.phrases.get(tuple(toks[start : start + n]))
                if terms and terms not in found:
                    found.append(terms)
        return found


@lru_cache(maxsize=1)
def default_lexicon() -> ChatLexicon:
    return ChatLexicon.load()
