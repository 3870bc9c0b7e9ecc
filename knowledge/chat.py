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
from functools import lru_cache
from pathlib import Path

from knowledge.normalize import fold, normalize

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
    phrases: tuple[tuple[re.Pattern[str], str], ...]

    @classmethod
    def load(cls, folder: Path = DATA) -> ChatLexicon:
        abbr: dict[str, str] = {}
        for key, value in _read_tsv(folder / "abbreviations.tsv"):
            abbr[key.lower()] = value
            abbr.setdefault(fold(key), value)
        phrases = tuple(
            (re.compile(rf"(?<!\w){re.escape(fold(k))}(?!\w)"), v)
            for k, v in _read_tsv(folder / "legal_terms.tsv")
        )
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
        folded = fold(text)
        found: list[str] = []
        for pattern, terms in self.phrases:
            if pattern.search(folded) and terms not in found:
                found.append(terms)
        return found


@lru_cache(maxsize=1)
def default_lexicon() -> ChatLexicon:
    return ChatLexicon.load()
