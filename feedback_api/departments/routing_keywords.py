"""Lexical signals for the department classifier: keyword hits and formal complaints.

Keywords are written accented and matched on whole words: as written in accented text,
accent-folded in text typed without diacritics (so "so do" hits "sổ đỏ"). Matching accented
text exactly avoids folded collisions such as "chùa"/"chưa" and "công nhân"/"công nhận".

Formal complaints and denunciations (khiếu nại, tố cáo) follow their own legal procedure
and go to the provincial inspectorate (DESIGN.md "Feedback lifecycle").
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

from vietnamese import fold, has_diacritics, is_unaccented, normalize, words

_NEGATIONS = {"không", "ko", "k", "kg", "khong", "chưa", "chua", "chẳng", "chang", "hok", "hông"}
# "không phải khiếu nại", "chưa muốn tố cáo": a negation up to two words before.
_NEGATION_BRIDGE = {"phải", "phai", "muốn", "muon", "định", "dinh", "cần", "can", "là", "la"}
# A complaint lodged with a shop, a carrier or a bus company is a consumer dispute,
# not the administrative procedure of the Law on Complaints.
_BUSINESSES = (
    "cửa hàng", "người bán", "shop", "nhà mạng", "công ty", "điện lực", "ngân hàng",
    "nhà xe", "khách sạn", "siêu thị", "sàn", "nhà cung cấp",
)  # fmt: skip
# Unaccented "to cao" also reads "to cao" (big and tall): it counts only next to words
# that make "denounce" the reading.
_TO_CAO_BEFORE = {
    "toi", "minh", "em", "e", "chung", "muon", "xin", "de", "don", "thu", "se", "phai",
    "da", "dang", "bi", "viec", "quyen", "va", "gui", "noi", "can", "nguoi", "ve",
}  # fmt: skip
_TO_CAO_AFTER = {
    "can", "cb", "chu", "pho", "truong", "lanh", "ong", "ba", "anh", "chi", "hanh", "viec",
    "nhom", "cong", "giam", "doanh", "ke", "toan", "thon", "xa", "canh", "dia", "ve", "sai",
    "nhung", "tham", "hieu", "ban", "co",
}  # fmt: skip
_WORD = re.compile(r"\w+")


def folded_words(text: str) -> str:
    """Folded text with every run of non-word characters turned into one space."""
    return " ".join(_WORD.findall(fold(text)))


def plain_words(text: str) -> str:
    """Normalised lower-case words joined by single spaces (diacritics kept)."""
    return " ".join(words(text))


def _pattern(phrase: str) -> re.Pattern[str]:
    return re.compile(rf"(?<!\w){re.escape(phrase)}(?!\w)")


def _loose_pattern(phrase: str) -> re.Pattern[str] | None:
    """The folded pattern, except for one accented syllable: folded alone it is ambiguous
    ("chùa" would match "chưa"), so it only matches accented text."""
    if " " not in phrase and has_diacritics(phrase):
        return None
    return _pattern(folded_words(phrase))


class KeywordMatcher:
    """Finds each department's keyword phrases in a text (see the module docstring)."""

    def __init__(self, keywords: Mapping[str, Sequence[str]]) -> None:
        self.patterns: dict[str, list[tuple[str, re.Pattern[str], re.Pattern[str] | None]]] = {}
        for code, phrases in keywords.items():
            unique = sorted({plain_words(normalize(p)) for p in phrases} - {""})
            self.patterns[code] = [(p, _pattern(p), _loose_pattern(p)) for p in unique]

    def hits(self, texts: Iterable[str]) -> dict[str, list[str]]:
        """Keyword phrases found per department in any of ``texts`` (e.g. raw and restored)."""
        accented, folded = [], []
        for text in texts:
            if not is_unaccented(text):
                accented.append(plain_words(text))
            elif text:
                folded.append(folded_words(text))
        found: dict[str, list[str]] = {}
        for code, patterns in self.patterns.items():
            matched = [
                p
                for p, exact, loose in patterns
                if any(exact.search(t) for t in accented)
                or (loose is not None and any(loose.search(t) for t in folded))
            ]
            if matched:
                found[code] = matched
        return found


def _negated(tokens: list[str], i: int) -> bool:
    before = [fold(t) for t in tokens[max(0, i - 3) : i]]
    negations = {fold(n) for n in _NEGATIONS}
    if before and before[-1] in negations:
        return True
    if len(before) >= 2 and before[-2] in negations and before[-1] in _NEGATION_BRIDGE:
        return True
    return (
        len(before) == 3
        and before[0] in negations
        and before[1] in _NEGATION_BRIDGE
        and before[2] in _NEGATION_BRIDGE
    )


def _with_business(folded_after: str) -> bool:
    if not folded_after.startswith("voi "):
        return False
    rest = folded_after[4:]
    return any(rest.startswith(folded_words(b)) for b in _BUSINESSES)


def _is_formal_at(tokens: list[str], i: int) -> bool:
    first, second = tokens[i], tokens[i + 1]
    pair = (fold(first), fold(second))
    accented = has_diacritics(first) or has_diacritics(second)
    if pair in (("khieu", "nai"), ("khieu", "kien")):
        # Any accent pattern that folds to "khieu nai" can only mean "complain".
        return not accented or first == "khiếu"
    if pair != ("to", "cao"):
        return False
    if accented:
        return (first, second) == ("tố", "cáo")
    prev = fold(tokens[i - 1]) if i > 0 else ""
    nxt = fold(tokens[i + 2]) if i + 2 < len(tokens) else ""
    return prev in _TO_CAO_BEFORE or nxt in _TO_CAO_AFTER


def is_formal_complaint(text: str) -> bool:
    """True when the text lodges (or asks about) a formal complaint or denunciation.

    Matches "khiếu nại", "khiếu kiện", "tố cáo" and their unaccented forms, except when
    negated ("không phải khiếu nại") or addressed to a business ("khiếu nại với cửa hàng").
    Unaccented "to cao" needs a denouncing context ("tôi to cao", "to cao can bo").
    """
    tokens = words(text)
    for i in range(len(tokens) - 1):
        if not _is_formal_at(tokens, i) or _negated(tokens, i):
            continue
        if _with_business(" ".join(fold(t) for t in tokens[i + 2 : i + 6])):
            continue
        return True
    return False
