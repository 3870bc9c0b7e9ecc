"""Splitting text into articles ("Điều N."), or into sections and chunks when there are none."""

from __future__ import annotations

import re

from knowledge.documents.extract import _PARAGRAPH_START, _clean_lines
from knowledge.documents.model import Article
from vietnamese import fold

# Word counts for chunking documents that have no "Điều" headings.
CHUNK_MIN_WORDS = 150
CHUNK_MAX_WORDS = 250
CHUNK_HARD_MAX_WORDS = 300  # a chunk still under the minimum may grow this far
CHUNK_TAIL_WORDS = 50
SECTION_TITLE_WORDS = 12
HEADING_MAX_WORDS = 15
TITLE_MAX_WORDS = 80  # the longest article title in laws.json has 53 words

_ARTICLE = re.compile(r"^(?i:điều)\s+(\d+[a-zđ]?)\s*(?:[.:\-–]\s*(.*))?$")
_STRUCTURE = re.compile(
    r"^(?i:phần|chương|mục|tiểu mục)\s+(?:(?i:thứ)\s+\S+|[IVXLCDM]+|\d+)\b(.*)$"
)
_MARKDOWN_HEADING = re.compile(r"^#{1,6}\s+(.*)$")
_ROMAN_HEADING = re.compile(r"^[IVXLC]+\.\s+\S")
_SIGNATURE = re.compile(r"^(?:TM|KT|TL|TUQ)\.\s*\S")
_SENTENCE_END = re.compile(r"(?<=[.!?…;])\s+")


def split_articles(text: str) -> list[Article]:
    """Articles by "Điều N." headings, else sections by headings or ~150-250-word chunks.

    Text before the first article (letterhead, "Căn cứ ..."), "Phần/Chương/Mục" headings
    with their titles, other markdown headings and signature blocks ("Nơi nhận:", "TM. ...")
    up to the next article are left out.
    When numbering restarts (a decision followed by the regulation it issues), the
    later articles get ids "p2-1", "p2-2", ... so ids stay unique.
    """
    lines = _clean_lines(text.split("\n"))
    if any(_ARTICLE.match(_plain(line)) for line in lines):
        return _split_legal(lines)
    return _split_sections(lines)


def _plain(line: str) -> str:
    """A line without markdown heading and emphasis marks, for heading matching."""
    return line.lstrip("# ").strip().strip("*_").strip()


def _is_structure(plain: str) -> bool:
    """ "Chương II", "Mục 1. ...", "PHẦN THỨ NHẤT", "Chương I QUY ĐỊNH CHUNG"."""
    match = _STRUCTURE.match(plain)
    if not match:
        return False
    rest = match.group(1).strip()
    return not rest or rest[0] in ".:-–" or rest.isupper()


def _is_signature(plain: str) -> bool:
    """ "Nơi nhận:" or "TM. ỦY BAN NHÂN DÂN" / "KT. CHỦ TỊCH" ends the decision's body."""
    if fold(plain).startswith("noi nhan"):
        return True
    return bool(_SIGNATURE.match(plain)) and plain.isupper()


def _split_legal(lines: list[str]) -> list[Article]:
    drafts: list[tuple[str, str, list[str]]] = []
    skipping = True  # preamble before the first article
    for line in lines:
        plain = _plain(line)
        match = _ARTICLE.match(plain)
        if match:
            title, body = _heading_title(match.group(2) or "")
            drafts.append((match.group(1), title, body))
            skipping = False
        elif _is_structure(plain) or _is_signature(plain) or _MARKDOWN_HEADING.match(line):
            skipping = True  # until the next "Điều"
        elif not skipping:
            drafts[-1][2].append(line)
    return _with_unique_ids(drafts)


def _heading_title(rest: str) -> tuple[str, list[str]]:
    """Title of "Điều N. <rest>"; a sentence there is body text ("Điều 2. Quyết định này ...")."""
    rest = rest.strip().strip("*_").strip()
    if rest and not _looks_like_title(rest, has_body=True):
        return _trim_words(_first_sentence(rest), SECTION_TITLE_WORDS), [rest]
    return rest, []


def _looks_like_title(line: str, *, has_body: bool) -> bool:
    """A title is not a numbered clause, does not end a sentence, and has a body after it."""
    return (
        has_body
        and not re.match(r"^\d+\.\s", line)
        and not line.endswith((".", ";", ":", "!", "?"))
        and len(line.split()) <= TITLE_MAX_WORDS
    )


def _with_unique_ids(drafts: list[tuple[str, str, list[str]]]) -> list[Article]:
    articles: list[Article] = []
    seen: set[str] = set()
    part = 1
    for number, title, body in drafts:
        if number in seen:
            part, seen = part + 1, set()
        seen.add(number)
        article_id = number if part == 1 else f"p{part}-{number}"
        articles.append(Article(article_id, title, "\n".join(body)))
    return articles


def _short_line(line: str, *, roman: bool = False) -> bool:
    """Short, unpunctuated, not a list item: could be a heading of a news article or plan."""
    return (
        len(line.split()) <= HEADING_MAX_WORDS
        and not line.endswith((".", ",", ";", ":", "!", "?", "…"))
        and (roman or not _PARAGRAPH_START.match(line))
        and (line[:1].isupper() or line[:1].isdigit())
    )


def _section_heading(line: str, following: str | None) -> str | None:
    """Markdown "## ...", "II. NỘI DUNG", or a short line followed by a paragraph."""
    match = _MARKDOWN_HEADING.match(line)
    if match:
        return match.group(1).strip().strip("*_").strip() or None
    if _ROMAN_HEADING.match(line) and (line.isupper() or _short_line(line, roman=True)):
        return line
    if following is not None and _short_line(line) and not _short_line(following):
        return line.strip("*_").strip()
    return None


def _split_sections(lines: list[str]) -> list[Article]:
    sections: list[tuple[str | None, list[str]]] = [(None, [])]
    for line, following in zip(lines, [*lines[1:], None], strict=True):
        heading = _section_heading(line, following)
        if heading is not None:
            sections.append((heading, []))
        else:
            sections[-1][1].append(line)
    articles: list[Article] = []
    for heading, paragraphs in sections:
        for chunk in _chunk(paragraphs):
            title = heading or _trim_words(_first_sentence(_plain(chunk[0])), SECTION_TITLE_WORDS)
            articles.append(Article(str(len(articles) + 1), title, "\n".join(chunk)))
    return articles


def _chunk(paragraphs: list[str]) -> list[list[str]]:
    """Pack paragraphs (long ones split by sentence) into chunks of ~150-250 words."""
    chunks: list[list[str]] = []
    size = CHUNK_HARD_MAX_WORDS + 1
    for unit in (piece for para in paragraphs for piece in _split_long(para)):
        words = len(unit.split())
        over = size + words > CHUNK_MAX_WORDS
        if over and (size >= CHUNK_MIN_WORDS or size + words > CHUNK_HARD_MAX_WORDS):
            chunks.append([])
            size = 0
        chunks[-1].append(unit)
        size += words
    if len(chunks) > 1 and sum(len(u.split()) for u in chunks[-1]) < CHUNK_TAIL_WORDS:
        chunks[-2].extend(chunks.pop())
    return chunks


def _split_long(paragraph: str) -> list[str]:
    """A paragraph as pieces of at most CHUNK_MAX_WORDS words, cut at sentence ends."""
    if len(paragraph.split()) <= CHUNK_MAX_WORDS:
        return [paragraph]
    pieces: list[list[str]] = [[]]
    for sentence in _SENTENCE_END.split(paragraph):
        words = sentence.split()
        while words:
            room = CHUNK_MAX_WORDS - len(pieces[-1])
            if room <= 0 or (len(words) > room and pieces[-1] and len(words) <= CHUNK_MAX_WORDS):
                pieces.append([])
                continue
            pieces[-1].extend(words[:room])
            words = words[room:]
    return [" ".join(piece) for piece in pieces if piece]


def _first_sentence(text: str) -> str:
    return _SENTENCE_END.split(text.strip(), maxsplit=1)[0]


def _trim_words(text: str, limit: int) -> str:
    words = text.split()
    return text if len(words) <= limit else " ".join(words[:limit]) + "…"
