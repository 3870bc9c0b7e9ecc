"""National laws from ``laws.json`` as in-force :class:`Document` objects."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from knowledge.documents.articles import _looks_like_title
from knowledge.documents.extract import _clean_lines
from knowledge.documents.metadata import _validate_metadata
from knowledge.documents.model import (
    Article,
    Document,
    DocumentError,
    _content_hash,
    read_json,
)
from vietnamese import normalize

Lookup = Callable[[str], Any]


def load_laws_json(
    path: Path, *, department_of: Lookup | None = None, metadata_of: Lookup | None = None
) -> list[Document]:
    """National laws in the ``[{"id": ..., "articles": [{"id", "text"}]}]`` shape. Their
    number, dates, status and validity note come from ``metadata_of(law id)`` (a dict with the
    keys of a document's metadata, ``corpus/law_metadata.json``); a law without any is in
    force, with nothing more known."""
    path = Path(path)
    laws = read_json(path, expect=list, what="", shape="một danh sách luật […]")
    return [_law_document(law, path, department_of, metadata_of) for law in laws]


def _law_document(
    law: Any, path: Path, department_of: Lookup | None, metadata_of: Lookup | None
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
    given = (metadata_of(law_id) if metadata_of else None) or {}
    extra = _validate_metadata(given, f"{path.name} ({law_id})") if given else {}
    meta = {"status": "in_force", **extra, "department": department}
    raw = json.dumps(law, ensure_ascii=False, sort_keys=True).encode("utf-8")
    return Document(
        doc_id=law_id,
        title=law_id,
        number=meta.get("number"),
        issuer=meta.get("issuer"),
        issued=meta.get("issued"),
        effective=meta.get("effective"),
        status=meta["status"],
        source_url=meta.get("source_url"),
        department=department,
        articles=articles,
        content_hash=_content_hash(raw, meta),
        expires=meta.get("expires"),
        replaced_by=meta.get("replaced_by"),
        note=meta.get("note"),
    )


def _law_article(article: Any, law_id: str, path: Path) -> Article:
    """First line is the title, except in untitled articles (the Constitution's)."""
    if not (isinstance(article, dict) and isinstance(article.get("text"), str) and "id" in article):
        raise DocumentError(f"Tệp {path.name}: điều luật của “{law_id}” cần “id” và “text”.", path)
    lines = _clean_lines(article["text"].split("\n"))
    if lines and _looks_like_title(lines[0], has_body=len(lines) > 1):
        return Article(str(article["id"]), lines[0], "\n".join(lines[1:]))
    return Article(str(article["id"]), "", "\n".join(lines))
