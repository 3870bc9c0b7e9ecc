"""Read the province's own policy documents into structured :class:`Document` objects.

Officials drop a folder of files (.docx, .pdf, .html, .md, .txt) with optional metadata:
a folder-level ``metadata.json`` mapping file name -> metadata dict, and/or a sidecar
``<file name>.meta.json`` next to a file (the sidecar wins). Each file becomes a
:class:`Document` whose :class:`Article` list follows the Vietnamese legal structure
("Điều 1. ...") or, for news, plans and notices, headings or ~150-250-word chunks.

All text goes through :func:`knowledge.normalize.normalize` one paragraph at a time, so
paragraph breaks survive as ``"\\n"``. Errors are :class:`DocumentError` with a
Vietnamese message naming the file; :func:`load_folder` collects them per file.
"""

from __future__ import annotations

import codecs
import hashlib
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Literal, cast

from knowledge.normalize import fold, normalize

Status = Literal["in_force", "expired", "draft"]

# Bump when extraction or splitting changes, so stored hashes force a re-index.
PARSER_VERSION = "1"

TEXT_SUFFIXES = frozenset({".md", ".markdown", ".txt"})
HTML_SUFFIXES = frozenset({".html", ".htm"})
SUPPORTED_SUFFIXES = TEXT_SUFFIXES | HTML_SUFFIXES | {".docx", ".pdf"}
FOLDER_METADATA = "metadata.json"
SIDECAR_SUFFIX = ".meta.json"
META_KEYS = frozenset(
    {"id", "title", "number", "issuer", "issued", "effective", "status", "source_url", "department"}
)

# Word counts for chunking documents that have no "Điều" headings.
CHUNK_MIN_WORDS = 150
CHUNK_MAX_WORDS = 250
CHUNK_HARD_MAX_WORDS = 300  # a chunk still under the minimum may grow this far
CHUNK_TAIL_WORDS = 50
SECTION_TITLE_WORDS = 12
HEADING_MAX_WORDS = 15
TITLE_MAX_WORDS = 80  # the longest article title in laws.json has 53 words
DOCUMENT_TITLE_WORDS = 30


@dataclass(frozen=True)
class Article:
    """One article ("Điều") or section; ``text`` is the body without the heading line."""

    id: str
    title: str
    text: str


@dataclass(frozen=True)
class Document:
    """One policy document with validated metadata and its articles."""

    doc_id: str
    title: str
    number: str | None
    issuer: str | None
    issued: str | None
    effective: str | None
    status: Status
    source_url: str | None
    department: str | None
    articles: tuple[Article, ...]
    content_hash: str


class DocumentError(Exception):
    """A file (or its metadata) cannot be read; the message is Vietnamese for officials."""

    def __init__(self, message: str, path: Path | None = None) -> None:
        super().__init__(message)
        self.path = path


# --------------------------------------------------------------------------- text extraction


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


# --------------------------------------------------------------------------- article splitting

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


# --------------------------------------------------------------------------- metadata

_STATUSES: dict[str, Status] = {
    "in_force": "in_force",
    "expired": "expired",
    "draft": "draft",
    "con hieu luc": "in_force",
    "co hieu luc": "in_force",
    "dang co hieu luc": "in_force",
    "het hieu luc": "expired",
    "da het hieu luc": "expired",
    "du thao": "draft",
}
_DMY = re.compile(r"^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})$")
_YMD = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")


def _parse_date(value: str, key: str, name: str) -> str:
    """ISO date from "2024-03-15" or Vietnamese "15/03/2024"."""
    ymd, dmy = _YMD.match(value), _DMY.match(value)
    try:
        if ymd:
            return date(int(ymd[1]), int(ymd[2]), int(ymd[3])).isoformat()
        if dmy:
            return date(int(dmy[3]), int(dmy[2]), int(dmy[1])).isoformat()
    except ValueError:
        pass
    raise DocumentError(
        f"Siêu dữ liệu của tệp {name}: ngày “{value}” ở trường “{key}” không hợp lệ; "
        "hãy ghi theo dạng NNNN-TT-NN (ví dụ 2024-03-15) hoặc NN/TT/NNNN."
    )


def _parse_status(value: str, name: str) -> Status:
    status = _STATUSES.get(fold(value).replace("-", "_"))
    if status is None:
        raise DocumentError(
            f"Siêu dữ liệu của tệp {name}: trạng thái “{value}” không hợp lệ; "
            "hãy dùng “còn hiệu lực”, “hết hiệu lực” hoặc “dự thảo”."
        )
    return status


def _department_code(value: str) -> str:
    """ "Công an" or "cong-an" -> "cong-an"."""
    return re.sub(r"[^a-z0-9]+", "-", fold(value)).strip("-")


def _validate_metadata(raw: Mapping[str, Any], name: str) -> dict[str, str]:
    """Check keys and value types, normalise text; returns only non-empty values."""
    raw = {k: v for k, v in raw.items() if not k.startswith("_")}  # "_comment" keys
    unknown = sorted(set(raw) - META_KEYS)
    if unknown:
        raise DocumentError(
            f"Siêu dữ liệu của tệp {name}: không có trường {', '.join(unknown)}; "
            f"các trường hợp lệ: {', '.join(sorted(META_KEYS))}."
        )
    meta: dict[str, str] = {}
    for key, value in raw.items():
        if value is None:
            continue
        if not isinstance(value, str):
            raise DocumentError(f"Siêu dữ liệu của tệp {name}: trường “{key}” phải là chuỗi chữ.")
        if normalize(value):
            meta[key] = normalize(value)
    for key in ("issued", "effective"):
        if key in meta:
            meta[key] = _parse_date(meta[key], key, name)
    if "status" in meta:
        meta["status"] = _parse_status(meta["status"], name)
    if "department" in meta:
        meta["department"] = _department_code(meta["department"])
    if "source_url" in meta and not meta["source_url"].startswith(("http://", "https://")):
        raise DocumentError(
            f"Siêu dữ liệu của tệp {name}: “source_url” phải bắt đầu bằng http(s)://."
        )
    return meta


def _read_json_object(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise DocumentError(f"Không đọc được tệp siêu dữ liệu {path.name}: {exc}", path) from exc
    if not isinstance(data, dict):
        raise DocumentError(f"Tệp siêu dữ liệu {path.name} phải là một đối tượng JSON {{…}}.", path)
    return data


def _content_hash(raw: bytes, metadata: Mapping[str, Any]) -> str:
    digest = hashlib.sha256(PARSER_VERSION.encode() + b"\0" + raw + b"\0")
    digest.update(json.dumps(metadata, ensure_ascii=False, sort_keys=True).encode("utf-8"))
    return digest.hexdigest()


def _status_of(meta: Mapping[str, str], path: Path, lines: list[str]) -> Status:
    """The metadata status; without one, a file that calls itself "Dự thảo" is a draft."""
    if "status" in meta:
        return cast(Status, meta["status"])
    name = " " + re.sub(r"[^a-z0-9]+", " ", fold(path.stem))
    if " du thao" in name or any(fold(_plain(line)).startswith("du thao") for line in lines[:5]):
        return "draft"
    return "in_force"


# --------------------------------------------------------------------------- loading


def load_document(path: Path, metadata: Mapping[str, Any] | None = None) -> Document:
    """One file with its raw (merged) metadata dict; raises DocumentError."""
    path = Path(path)
    raw_meta = dict(metadata or {})
    try:
        meta = _validate_metadata(raw_meta, path.name)
        raw = path.read_bytes()
    except DocumentError as err:
        raise DocumentError(str(err), path) from err
    except OSError as exc:
        raise DocumentError(f"Không đọc được tệp {path.name}: {exc}", path) from exc
    text = extract_text(path)
    lines = text.split("\n")
    articles = tuple(split_articles(text))
    if not articles:
        raise DocumentError(
            f"Tệp {path.name} không có điều khoản hay đoạn văn nào để tìm kiếm.", path
        )
    title = meta.get("title") or _trim_words(_plain(lines[0]), DOCUMENT_TITLE_WORDS)
    return Document(
        doc_id=meta.get("id") or normalize(path.stem),
        title=title,
        number=meta.get("number"),
        issuer=meta.get("issuer"),
        issued=meta.get("issued"),
        effective=meta.get("effective"),
        status=_status_of(meta, path, lines),
        source_url=meta.get("source_url"),
        department=meta.get("department"),
        articles=articles,
        content_hash=_content_hash(raw, raw_meta),
    )


_JUNK = frozenset({"thumbs.db", "desktop.ini"})


def _is_hidden(path: Path, folder: Path) -> bool:
    """Hidden files and folders, and Office lock files ("~$report.docx")."""
    return any(part.startswith((".", "~$")) for part in path.relative_to(folder).parts)


def _is_candidate(path: Path, folder: Path) -> bool:
    if _is_hidden(path, folder):
        return False
    name = path.name.lower()
    return name != FOLDER_METADATA and not name.endswith(SIDECAR_SUFFIX) and name not in _JUNK


def _sidecars(path: Path) -> list[Path]:
    """Sidecar metadata files, weakest first: "<stem>.meta.json", then "<name>.meta.json"."""
    return [path.with_name(path.stem + SIDECAR_SUFFIX), path.with_name(path.name + SIDECAR_SUFFIX)]


def _merged_metadata(path: Path, folder: Path, tables: Mapping[Path, Any]) -> dict[str, Any]:
    """Folder metadata.json entries from the root down, then sidecars; later keys win."""
    merged: dict[str, Any] = {}
    directory = path.parent
    ancestors = [directory, *directory.parents]
    for parent in reversed(ancestors[: ancestors.index(folder) + 1]):
        table = tables.get(parent)
        if isinstance(table, DocumentError):
            raise DocumentError(
                f"Không nạp tệp {path.name} vì tệp {FOLDER_METADATA} của thư mục bị lỗi.", path
            )
        entry = (table or {}).get(path.relative_to(parent).as_posix())
        if entry is not None and not isinstance(entry, dict):
            raise DocumentError(
                f"{FOLDER_METADATA}: mục của tệp {path.name} phải là đối tượng JSON.", path
            )
        merged.update(entry or {})
    for sidecar in _sidecars(path):
        if sidecar.is_file():
            merged.update(_read_json_object(sidecar))
    return merged


def _metadata_tables(folder: Path) -> dict[Path, dict[str, Any] | DocumentError]:
    tables: dict[Path, dict[str, Any] | DocumentError] = {}
    for path in sorted(folder.rglob(FOLDER_METADATA)):
        if _is_hidden(path, folder):
            continue
        try:
            tables[path.parent] = _read_json_object(path)
        except DocumentError as err:
            tables[path.parent] = err
    return tables


def _orphan_metadata(
    folder: Path, tables: Mapping[Path, Any], files: set[Path]
) -> list[DocumentError]:
    """Metadata that names no file: usually a typo that would silently drop e.g. a draft status."""
    errors: list[DocumentError] = []
    for directory, table in sorted(tables.items()):
        if isinstance(table, DocumentError):
            errors.append(table)
            continue
        for key in sorted(k for k in table if not k.startswith("_")):  # "_comment" keys
            if directory / key not in files:
                where = (directory / FOLDER_METADATA).relative_to(folder).as_posix()
                errors.append(
                    DocumentError(f"{where}: không có tệp “{key}” trong thư mục.", directory / key)
                )
    sidecars = (p for p in folder.rglob("*" + SIDECAR_SUFFIX) if not _is_hidden(p, folder))
    for sidecar in sorted(sidecars):
        target = sidecar.name[: -len(SIDECAR_SUFFIX)]
        if not any(
            p.name == target or p.stem == target for p in files if p.parent == sidecar.parent
        ):
            errors.append(
                DocumentError(
                    f"Tệp siêu dữ liệu {sidecar.name} không ứng với tệp văn bản nào.", sidecar
                )
            )
    return errors


def load_folder(folder: Path) -> tuple[list[Document], list[DocumentError]]:
    """Every document under ``folder`` (recursive, sorted by path) and per-file errors."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DocumentError(f"Không tìm thấy thư mục {folder}.", folder)
    files = sorted(
        (p for p in folder.rglob("*") if p.is_file() and _is_candidate(p, folder)),
        key=lambda p: p.relative_to(folder).as_posix(),
    )
    tables = _metadata_tables(folder)
    documents: list[Document] = []
    errors: list[DocumentError] = []
    owners: dict[str, Path] = {}
    for path in files:
        try:
            document = load_document(path, _merged_metadata(path, folder, tables))
        except DocumentError as err:
            err.path = err.path or path
            errors.append(err)
            continue
        if document.doc_id in owners:
            first = owners[document.doc_id].relative_to(folder).as_posix()
            this = path.relative_to(folder).as_posix()
            errors.append(
                DocumentError(
                    f"Tệp {this} có mã “{document.doc_id}” trùng với tệp "
                    f"{first}; hãy đặt “id” khác trong siêu dữ liệu.",
                    path,
                )
            )
            continue
        owners[document.doc_id] = path
        documents.append(document)
    return documents, errors + _orphan_metadata(folder, tables, set(files))


# --------------------------------------------------------------------------- laws.json


def load_laws_json(
    path: Path, *, department_of: Callable[[str], str | None] | None = None
) -> list[Document]:
    """National laws in the ``[{"id": ..., "articles": [{"id", "text"}]}]`` shape, in force."""
    path = Path(path)
    try:
        laws = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise DocumentError(f"Không đọc được tệp {path.name}: {exc}", path) from exc
    if not isinstance(laws, list):
        raise DocumentError(f"Tệp {path.name} phải là một danh sách luật […].", path)
    return [_law_document(law, path, department_of) for law in laws]


def _law_document(
    law: Any, path: Path, department_of: Callable[[str], str | None] | None
) -> Document:
    if not (
        isinstance(law, dict)
        and isinstance(law.get("id"), str)
        and isinstance(law.get("articles"), list)
    ):
        raise DocumentError(
            f"Tệp {path.name}: mỗi luật cần “id” (chuỗi) và “articles” (danh sách).", path
        )
    law_id = normalize(law["id"])
    articles = tuple(_law_article(article, law_id, path) for article in law["articles"])
    department = department_of(law_id) if department_of else None
    meta = {"status": "in_force", "department": department}
    raw = json.dumps(law, ensure_ascii=False, sort_keys=True).encode("utf-8")
    return Document(
        doc_id=law_id,
        title=law_id,
        number=None,
        issuer=None,
        issued=None,
        effective=None,
        status="in_force",
        source_url=None,
        department=department,
        articles=articles,
        content_hash=_content_hash(raw, meta),
    )


def _law_article(article: Any, law_id: str, path: Path) -> Article:
    """First line is the title, except in untitled articles (the Constitution's)."""
    if not (isinstance(article, dict) and isinstance(article.get("text"), str) and "id" in article):
        raise DocumentError(f"Tệp {path.name}: điều luật của “{law_id}” cần “id” và “text”.", path)
    lines = _clean_lines(article["text"].split("\n"))
    if lines and _looks_like_title(lines[0], has_body=len(lines) > 1):
        return Article(str(article["id"]), lines[0], "\n".join(lines[1:]))
    return Article(str(article["id"]), "", "\n".join(lines))
