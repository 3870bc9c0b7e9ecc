"""Vietnamese text normalisation: NFC, tone-mark placement, diacritic folding, tokens.

Everything that enters the index or a query goes through :func:`normalize`, so the
same word always becomes the same token whatever keyboard or encoding produced it.
The search, the department router, the NLU and the action server all fold and test
accents with these functions, so "typed without diacritics" means one thing everywhere.
"""

from __future__ import annotations

import re
import unicodedata

# Old-style tone placement ("hoà", "thoả", "uỷ") and new style ("hòa", "thỏa", "ủy")
# are both common; the corpus mostly uses the new style, so we map old to new.
# Only open syllables change: in "hoàn" the mark sits on "a" in both styles.
_TONES = {
    "\u0300": "grave",
    "\u0301": "acute",
    "\u0309": "hook",
    "\u0303": "tilde",
    "\u0323": "dot",
}
_OLD_STYLE = re.compile(r"(?<![qQ])([oOuU])([àáảãạÀÁẢÃẠèéẻẽẹÈÉẺẼẸỳýỷỹỵỲÝỶỸỴ])(?!\w)")

_WORD = re.compile(r"\w+", re.UNICODE)
_SPACES = re.compile(r"\s+")


def _move_tone(match: re.Match[str]) -> str:
    first, second = match.group(1), match.group(2)
    decomposed = unicodedata.normalize("NFD", second)
    base, marks = decomposed[0], decomposed[1:]
    tone = "".join(m for m in marks if m in _TONES)
    rest = "".join(m for m in marks if m not in _TONES)
    moved = unicodedata.normalize("NFC", first + tone)
    return moved + unicodedata.normalize("NFC", base + rest)


def normalize(text: str) -> str:
    """NFC, new-style tone placement, collapsed whitespace, no soft hyphens (statute texts
    copied from the web carry them inside words: "ph\u00adương")."""
    text = unicodedata.normalize("NFC", text.replace("\u00ad", ""))
    text = _OLD_STYLE.sub(_move_tone, text)
    return _SPACES.sub(" ", text).strip()


def fold(text: str) -> str:
    """Lower-case and strip every diacritic: "Đăng ký" -> "dang ky"."""
    text = unicodedata.normalize("NFD", text.lower()).replace("đ", "d")
    text = "".join(ch for ch in text if unicodedata.category(ch) != "Mn")
    return unicodedata.normalize("NFC", text)


def fold_keep_length(text: str) -> str:
    """:func:`fold` with one character per character, so positions in it are positions in
    ``text`` (for cutting the original at a match found in the folded copy)."""
    out = []
    for ch in text.lower():
        base = unicodedata.normalize("NFD", ch)[:1] or ch
        out.append("d" if base == "đ" else base)
    return "".join(out)


def has_diacritics(token: str) -> bool:
    """True when the token carries any Vietnamese mark (or the letter đ)."""
    return fold(token) != token.lower()


def words(text: str) -> list[str]:
    """Lower-cased syllables of normalised text; one-letter words ("ở", "ý") are kept."""
    return _WORD.findall(normalize(text).lower())


def accent_ratio(text: str) -> float:
    """Share of alphabetic syllables that carry diacritics (0.0 for unaccented text)."""
    toks = [t for t in words(text) if not t.isdigit()]
    if not toks:
        return 0.0
    return sum(has_diacritics(t) for t in toks) / len(toks)


# Below this share of accented syllables a message counts as typed without diacritics: the
# search then restores its accents and the router matches its keywords accent-folded. Mixed
# messages ("cho e hỏi thu tuc dang ky") are read as unaccented.
UNACCENTED_BELOW = 0.3


def is_unaccented(text: str) -> bool:
    """True when ``text`` counts as typed without diacritics (see ``UNACCENTED_BELOW``)."""
    return accent_ratio(text) < UNACCENTED_BELOW
