"""Loading one document file, or a whole folder of them with their metadata."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from knowledge.documents.articles import _plain, _trim_words, split_articles
from knowledge.documents.extract import extract_text
from knowledge.documents.metadata import (
    _is_hidden,
    _merged_metadata,
    _metadata_tables,
    _orphan_metadata,
    _status_of,
    _validate_metadata,
)
from knowledge.documents.model import (
    FOLDER_METADATA,
    SIDECAR_SUFFIX,
    Document,
    DocumentError,
    _content_hash,
)
from vietnamese import normalize

DOCUMENT_TITLE_WORDS = 30


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
        expires=meta.get("expires"),
        replaced_by=meta.get("replaced_by"),
        note=meta.get("note"),
    )


_JUNK = frozenset({"thumbs.db", "desktop.ini"})


def _is_candidate(path: Path, folder: Path) -> bool:
    if _is_hidden(path, folder):
        return False
    name = path.name.lower()
    return name != FOLDER_METADATA and not name.endswith(SIDECAR_SUFFIX) and name not in _JUNK


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
