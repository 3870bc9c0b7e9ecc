"""Shared types and constants of :mod:`knowledge.documents`."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

Status = Literal["in_force", "expired", "draft"]

# Bump when extraction or splitting changes, so stored hashes force a re-index.
PARSER_VERSION = "1"

TEXT_SUFFIXES = frozenset({".md", ".markdown", ".txt"})
HTML_SUFFIXES = frozenset({".html", ".htm"})
SUPPORTED_SUFFIXES = TEXT_SUFFIXES | HTML_SUFFIXES | {".docx", ".pdf"}
FOLDER_METADATA = "metadata.json"
SIDECAR_SUFFIX = ".meta.json"
META_KEYS = frozenset(
    {"id", "title", "number", "issuer", "issued", "effective", "status", "source_url", "department",
     "expires", "replaced_by", "note"}
)


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
    # legal validity (knowledge/validity.py): the day it stops applying, what replaces it, and a
    # short Vietnamese note on known gaps ("chưa cập nhật sửa đổi năm 2025")
    expires: str | None = None
    replaced_by: str | None = None
    note: str | None = None


class DocumentError(Exception):
    """A file (or its metadata) cannot be read; the message is Vietnamese for officials."""

    def __init__(self, message: str, path: Path | None = None) -> None:
        super().__init__(message)
        self.path = path


def _content_hash(raw: bytes, metadata: Mapping[str, Any]) -> str:
    digest = hashlib.sha256(PARSER_VERSION.encode() + b"\0" + raw + b"\0")
    digest.update(json.dumps(metadata, ensure_ascii=False, sort_keys=True).encode("utf-8"))
    return digest.hexdigest()


def read_json(path: Path, *, expect: type, what: str, shape: str) -> Any:
    """Parse a JSON file of the expected top-level type, or raise a DocumentError that
    names the file (``what`` says which kind of file, ``shape`` what it should hold)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise DocumentError(f"Không đọc được tệp {what}{path.name}: {exc}", path) from exc
    if not isinstance(data, expect):
        raise DocumentError(f"Tệp {what}{path.name} phải là {shape}.", path)
    return data
