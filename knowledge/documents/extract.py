"""Per-format text extraction: .md/.txt, .html, .docx and .pdf to normalised paragraphs."""

from __future__ import annotations

import codecs
import re
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from knowledge.documents.model import HTML_SUFFIXES, TEXT_SUFFIXES, DocumentError
from vietnamese import normalize


def extract_text(path: Path) -> str:
    """Plain text of a file, one normalised paragraph per line."""
    path = Path(path)
    suffix = path.suffix.lower()
    readers: dict[str, Callable[[Path], list[str]]] = {".docx": _read_docx, ".pdf": _read_pdf}
    readers.update({s: _read_plain for s in TEXT_SUFFIXES} | {s: _read_html for s in HTML_SUFFIXES})
    reader = readers.get(suffix)
    if reader is None:
        raise DocumentError(
            f"Không hỗ trợ định dạng của tệp {path.name} ({suffix or 'không có đuôi tệp'}); "
            "hãy dùng .docx, .pdf, .html, .md hoặc .txt.",
            path,
        )
    try:
        paragraphs = reader(path)
    except DocumentError:
        raise
    except Exception as exc:  # noqa: BLE001 - any parser failure means an unreadable file
        raise DocumentError(f"Không đọc được tệp {path.name}: {exc}", path) from exc
    text = "\n".join(_clean_lines(paragraphs))
    if not text:
        hint = " (có thể là bản quét, cần tệp có lớp chữ)" if suffix == ".pdf" else ""
        raise DocumentError(f"Tệp {path.name} không có nội dung văn bản{hint}.", path)
    return text


def _clean_lines(paragraphs: Iterable[str]) -> list[str]:
    """Split on hard line breaks, normalise each line, drop empty ones."""
    lines = (normalize(line) for para in paragraphs for line in para.splitlines())
    return [line for line in lines if line]


def _read_plain(path: Path) -> list[str]:
    data = path.read_bytes()
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return [data.decode("utf-16")]
    try:
        return [data.decode("utf-8-sig")]
    except UnicodeDecodeError as exc:
        raise DocumentError(
            f"Không đọc được tệp {path.name}: tệp không mã hóa UTF-8 "
            f"(lỗi ở byte {exc.start}); hãy lưu lại tệp với bảng mã UTF-8.",
            path,
        ) from exc


_HTML_DROP = ["script", "style", "noscript", "template", "head", "nav", "svg", "iframe"]
_HTML_BLOCKS = list(
    "address article aside blockquote br caption dd div dl dt figcaption figure footer"
    " h1 h2 h3 h4 h5 h6 header hr li main ol p pre section table td th tr ul".split()
)
_BREAK = "\u2029"  # paragraph separator: marks block boundaries before get_text()


def _read_html(path: Path) -> list[str]:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(path.read_bytes(), "html.parser")
    for tag in soup.find_all(_HTML_DROP):
        tag.decompose()
    for tag in soup.find_all(_HTML_BLOCKS):
        tag.insert_before(_BREAK)
        tag.insert_after(_BREAK)
    # Source newlines inside a block are plain whitespace in HTML.
    return [" ".join(piece.split()) for piece in soup.get_text().split(_BREAK)]


def _read_docx(path: Path) -> list[str]:
    import docx

    return list(_docx_blocks(docx.Document(str(path))))


def _docx_blocks(container: Any) -> Iterator[str]:
    """Paragraph texts in document order, descending into table cells."""
    from docx.table import Table

    for block in container.iter_inner_content():
        if isinstance(block, Table):
            yield from _docx_table(block)
        else:
            yield block.text


def _docx_table(table: Any) -> Iterator[str]:
    seen: list[Any] = []  # merged cells come back once per grid slot
    for row in table.rows:
        for cell in row.cells:
            if any(cell._tc is tc for tc in seen):
                continue
            seen.append(cell._tc)
            yield from _docx_blocks(cell)


def _read_pdf(path: Path) -> list[str]:
    from pypdf import PdfReader

    reader = PdfReader(str(path))
    if reader.is_encrypted and not reader.decrypt(""):
        raise DocumentError(f"Không đọc được tệp {path.name}: tệp PDF có mật khẩu.", path)
    lines = [
        line.strip() for page in reader.pages for line in (page.extract_text() or "").splitlines()
    ]
    # Bare page numbers are layout, not content.
    return _reflow([line for line in lines if line and not line.isdigit()])


_PARAGRAPH_START = re.compile(
    r"^(?:(?i:điều|chương|mục|phần)\s|\d+(?:\.\d+)*[.)]\s|[a-zđ]\)\s|[-+•*–]\s|[IVXLC]+\.\s)"
)


def _reflow(lines: list[str]) -> list[str]:
    """Join PDF lines that were wrapped by the page layout back into paragraphs."""
    if not lines:
        return []
    full = sorted(len(line) for line in lines)[int(len(lines) * 0.9)]
    paragraphs = [lines[0]]
    for prev, line in zip(lines, lines[1:], strict=False):
        wrapped = (
            len(prev) >= 0.7 * full
            and not prev.endswith((".", ":", ";", "!", "?", "…"))
            and not prev.isupper()
            and not _PARAGRAPH_START.match(prev)
            and not _PARAGRAPH_START.match(line)
        )
        if wrapped:
            paragraphs[-1] += " " + line
        else:
            paragraphs.append(line)
    return paragraphs
