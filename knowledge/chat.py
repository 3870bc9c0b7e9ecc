"""Citizens' chat language -> words the statutes use.

Two small lexicons (editable by officials, no code): the chat-spelling table shared with the
assistant's NLU (``vietnamese/chat_spellings.tsv``) replaces chat spellings ("ko", "đc", "vk")
by full words; ``knowledge/data/legal_terms.tsv`` appends the legal vocabulary for everyday phrases
("nhập khẩu" -> "đăng ký thường trú"). Both match whole words; a word typed without
diacritics matches any accented form, while a word typed with diacritics must match
them ("dat cho" may be "dắt chó", "đất cho" is not).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from vietnamese import (
    SPELLINGS_FILE,
    fold,
    has_diacritics,
    is_unaccented,
    normalize,
    search_spellings,
    words,
)

if TYPE_CHECKING:
    from knowledge.diacritics import DiacriticRestorer

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
    # folded words of an everyday phrase -> (its words as written, legal terms), for every
    # phrase that folds to them ("dắt chó" and "đất cho" share a key)
    phrases: dict[tuple[str, ...], list[tuple[tuple[str, ...], str]]]

    @cached_property
    def longest(self) -> int:
        """Words in the longest everyday phrase."""
        return max((len(k) for k in self.phrases), default=0)

    @classmethod
    def load(cls, folder: Path = DATA, spellings: Path = SPELLINGS_FILE) -> ChatLexicon:
        abbr: dict[str, str] = {}
        for key, value in search_spellings(spellings):
            abbr[key.lower()] = value
            abbr.setdefault(fold(key), value)
        phrases: dict[tuple[str, ...], list[tuple[tuple[str, ...], str]]] = {}
        for key, value in _read_tsv(folder / "legal_terms.tsv"):
            written = tuple(words(key))
            phrases.setdefault(tuple(fold(w) for w in written), []).append((written, value))
        return cls(abbr, phrases)

    def expand_abbreviations(self, text: str) -> str:
        """Replace whole-word chat abbreviations; everything else is kept as typed."""
        out = []
        for tok in _TOKEN.findall(normalize(text)):
            low = tok.lower()
            out.append(self.abbreviations.get(low) or self.abbreviations.get(fold(low)) or tok)
        return "".join(out)

    def legal_terms(self, text: str) -> list[str]:
        """Legal phrases for the everyday phrases found in ``text`` (no duplicates).

        Pass the text as the citizen typed it (not after accent restoration): the diacritics
        they typed are what rules a phrase in or out."""
        typed = words(text)
        folded = [fold(w) for w in typed]
        found: list[str] = []
        for start in range(len(typed)):
            for n in range(1, min(self.longest, len(typed) - start) + 1):
                span = typed[start : start + n]
                for written, terms in self.phrases.get(tuple(folded[start : start + n]), ()):
                    if terms not in found and _compatible(span, written):
                        found.append(terms)
        return found


def _compatible(typed: list[str], written: tuple[str, ...]) -> bool:
    """Each word typed with diacritics is the lexicon's word; one typed without may be any."""
    return all(t == w or not has_diacritics(t) for t, w in zip(typed, written, strict=True))


@lru_cache(maxsize=1)
def default_lexicon() -> ChatLexicon:
    return ChatLexicon.load()


def read_plainly(text: str, lexicon: ChatLexicon,
                 restorer: DiacriticRestorer) -> tuple[str, str, bool]:
    """A message as the search reads it: ``(plain, restored, unaccented)``.

    ``plain`` has its chat spellings spelled out; ``restored`` is ``plain`` with diacritics put
    back when the message was typed without them (else ``plain`` itself). Used by the search
    and by the assistant's intent classifier (its e5 vectors: ``bot/addons/e5_reader.py``), so
    both read a message the same way. Expects NFC text (``normalize``)."""
    plain = lexicon.expand_abbreviations(text)
    unaccented = is_unaccented(plain)
    return plain, restorer.restore(plain) if unaccented else plain, unaccented
