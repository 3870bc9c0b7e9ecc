"""Short extractive answers: the lines of a retrieved passage that best match the question.

Nothing here writes policy: an excerpt is always a verbatim piece of a passage the search
returned (whole lines, or whole sentences of a long line, cut at a word with "…").
Matching works on accent-folded syllables and syllable pairs, so "dang ky tam tru" finds
"đăng ký tạm trú".
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from urllib.parse import quote

from vietnamese import fold

# Words that say nothing about the topic (folded): question words, pronouns, particles.
STOPWORDS = set("""
a ah ak ha nhe nha nhi vay day do kia oi a u ua la cua va voi cho toi tui em anh chi
ban minh chung ta ho no thi ma nhu the nao gi sao bao nhieu khong ko k hok co duoc dc
phai can muon hoi xin vui long giup cai nhung cac mot nay ay ve de khi neu hay hoac tu
den tai o trong ngoai tren duoi bi roi chua da dang se con moi nua thoi lam gium
""".split())
RELATED_RATIO = 0.75  # a confident answer also cites hits scoring this close to the best
EXCERPT_RATIO = 0.9  # ... and quotes those scoring this close (the others are links)
MAX_CITATIONS = 3
POINT = re.compile(r"^\s*(?:[a-zđ]\)|[0-9]+[.)]|[-–•])\s", re.IGNORECASE)


def terms(text: str) -> tuple[set, set]:
    """Content syllables and adjacent syllable pairs of a text, folded."""
    words = re.findall(r"[a-z0-9]+", fold(text))
    singles = {w for w in words if w not in STOPWORDS and len(w) > 1}
    pairs = {f"{a} {b}" for a, b in zip(words, words[1:])
             if a not in STOPWORDS or b not in STOPWORDS}
    return singles, pairs


def _sentences(line: str) -> list[str]:
    parts = re.split(r"(?<=[.;!?])\s+", line.strip())
    return [p for p in parts if p]


def _cut(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    head = text[:limit].rsplit(" ", 1)[0].rstrip(",;: ")
    return head + " …"


class _Scorer:
    """Matches units of one passage against the query terms; a term found in many lines of
    the passage counts less (it does not tell the lines apart)."""

    def __init__(self, lines: Sequence[str], queries: Sequence[str]) -> None:
        self.singles, self.pairs = set(), set()
        for q in queries:
            s, p = terms(q)
            self.singles |= s
            self.pairs |= p
        self.df: dict = {}
        for line in lines:
            s, p = terms(line)
            for t in (s & self.singles) | (p & self.pairs):
                self.df[t] = self.df.get(t, 0) + 1

    def __call__(self, unit: str) -> float:
        s, p = terms(unit)
        if not s:
            return 0.0
        score = sum(1.0 / self.df.get(t, 1) for t in s & self.singles)
        score += sum(2.0 / self.df.get(t, 1) for t in p & self.pairs)
        return score - 0.001 * len(unit)


def _is_item(line: str) -> bool:
    """A point of a list (a), b), -, •), not a numbered clause."""
    return bool(POINT.match(line)) and not re.match(r"^\s*[0-9]+[.)]", line)


def _block(lines: Sequence[str], best: int) -> tuple[int | None, list[int]]:
    """(introducing line, its items) of the list the best line belongs to, if any."""
    intro = None
    if lines[best].endswith(":"):
        intro = best
    elif _is_item(lines[best]):
        for i in range(best - 1, -1, -1):
            if lines[i].endswith(":"):
                intro = i
                break
            if not _is_item(lines[i]):
                break
    if intro is None:
        return None, []
    items = []
    for i in range(intro + 1, len(lines)):
        if not _is_item(lines[i]):
            break
        items.append(i)
    return intro, items


def excerpt(passage: str, queries: Sequence[str], limit: int = 400) -> str:
    """The line of ``passage`` that best matches the queries; a list is shown with the line
    that introduces it and as many of its items as fit (best first, in their order); a long
    line is reduced to its best sentences. Always verbatim text of the passage."""
    lines = [ln.strip() for ln in passage.splitlines() if ln.strip()]
    if not lines:
        return ""
    score = _Scorer(lines, queries)
    scores = [score(ln) for ln in lines]
    best = max(range(len(lines)), key=lambda i: (scores[i], -i))
    intro, items = _block(lines, best)
    if intro is not None and items:
        budget = limit - len(lines[intro]) - 1
        keep: list[int] = []
        for i in sorted(items, key=lambda i: (-scores[i], i)):
            if len(lines[i]) + 1 <= budget:
                keep.append(i)
                budget -= len(lines[i]) + 1
        if keep:
            return "\n".join([lines[intro]] + [lines[i] for i in sorted(keep)])
    line = lines[best]
    if len(line) <= limit:
        return line
    sentences = _sentences(line)
    ranked = sorted(range(len(sentences)), key=lambda i: (-score(sentences[i]), i))
    keep = []
    used = 0
    for i in ranked:
        if used + len(sentences[i]) > limit and keep:
            break
        keep.append(i)
        used += len(sentences[i]) + 1
    return _cut(" ".join(sentences[i] for i in sorted(keep)), limit)


def read_more_url(public_url: str, law_id: str, article_id: str) -> str:
    return f"{public_url.rstrip('/')}/van-ban/{quote(law_id, safe='')}/{quote(article_id, safe='')}"


def cited_hits(hits: Sequence[dict], confident: bool) -> list[dict]:
    """The hits an answer cites: the best, and (when confident) those scoring close to it."""
    hits = [h for h in hits if h.get("law_id") and h.get("article_id")]
    if not hits:
        return []
    if not confident:
        return list(hits[:MAX_CITATIONS])
    top = float(hits[0].get("score") or 0.0)
    chosen = [hits[0]]
    for h in hits[1:]:
        if len(chosen) == MAX_CITATIONS:
            break
        if float(h.get("score") or 0.0) >= RELATED_RATIO * top:
            chosen.append(h)
    return chosen


def quoted(hits: Sequence[dict]) -> Iterable[tuple[dict, bool]]:
    """(hit, quote it?) for the cited hits of a confident answer."""
    top = float(hits[0].get("score") or 0.0) if hits else 0.0
    for i, h in enumerate(hits):
        yield h, i == 0 or float(h.get("score") or 0.0) >= EXCERPT_RATIO * top


def citation_ref(hit: dict, *, related: bool = False) -> dict:
    """What the custom payload and the ``last_citations`` slot keep about a cited hit.
    ``related``: shown only as "có thể liên quan" (no confident answer), so it says nothing
    about which department the question belongs to."""
    validity = hit.get("validity") or {}
    ref = {
        "law_id": hit["law_id"],
        "article_id": str(hit["article_id"]),
        "title": hit.get("article_title") or "",
        "citation": hit.get("citation") or f"Điều {hit['article_id']} {hit['law_id']}",
        "source": hit.get("source"),
        "status": validity.get("status"),
        "validity": validity.get("line"),
        "score": round(float(hit.get("score") or 0.0), 4),
    }
    if related:
        ref["related"] = True
    return ref


def cited_as(hit: dict) -> str:
    """The citation a citizen reads: the article and law, then the law's number and since when
    it applies ("Điều 20 Luật Cư trú 2020 (số 68/2020/QH14, hiệu lực từ 01/07/2021)")."""
    citation = hit.get("citation") or f"Điều {hit['article_id']} {hit['law_id']}"
    return f"{citation} ({hit['source']})" if hit.get("source") else citation


def validity_notes(hits: Sequence[dict]) -> list[str]:
    """One line per cited law that has something to say (a known gap, a replacement date,
    expired), in citation order, each law once."""
    notes: list[str] = []
    seen: set[str] = set()
    for h in hits:
        line = (h.get("validity") or {}).get("line")
        if line and h["law_id"] not in seen:
            seen.add(h["law_id"])
            notes.append(f"{h.get('law_title') or h['law_id']}: {line}")
    return notes


def short_title(hit: dict, limit: int = 60) -> str | None:
    title = (hit.get("article_title") or "").strip()
    return _cut(title, limit) if title else None
