"""Read the province's own policy documents into structured :class:`Document` objects.

Officials drop a folder of files (.docx, .pdf, .html, .md, .txt) with optional metadata:
a folder-level ``metadata.json`` mapping file name -> metadata dict, and/or a sidecar
``<file name>.meta.json`` next to a file (the sidecar wins). Each file becomes a
:class:`Document` whose :class:`Article` list follows the Vietnamese legal structure
("Điều 1. ...") or, for news, plans and notices, headings or ~150-250-word chunks.

All text goes through :func:`vietnamese.normalize` one paragraph at a time, so
paragraph breaks survive as ``"\\n"``. Errors are :class:`DocumentError` with a
Vietnamese message naming the file; :func:`load_folder` collects them per file.
"""

from knowledge.documents.articles import (
    CHUNK_HARD_MAX_WORDS,
    CHUNK_MAX_WORDS,
    CHUNK_MIN_WORDS,
    CHUNK_TAIL_WORDS,
    HEADING_MAX_WORDS,
    SECTION_TITLE_WORDS,
    TITLE_MAX_WORDS,
    split_articles,
)
from knowledge.documents.extract import extract_text
from knowledge.documents.folder import DOCUMENT_TITLE_WORDS, load_document, load_folder
from knowledge.documents.laws import load_laws_json
from knowledge.documents.model import (
    FOLDER_METADATA,
    HTML_SUFFIXES,
    META_KEYS,
    PARSER_VERSION,
    SIDECAR_SUFFIX,
    SUPPORTED_SUFFIXES,
    TEXT_SUFFIXES,
    Article,
    Document,
    DocumentError,
    Status,
)

__all__ = [
    "CHUNK_HARD_MAX_WORDS",
    "CHUNK_MAX_WORDS",
    "CHUNK_MIN_WORDS",
    "CHUNK_TAIL_WORDS",
    "DOCUMENT_TITLE_WORDS",
    "FOLDER_METADATA",
    "HEADING_MAX_WORDS",
    "HTML_SUFFIXES",
    "META_KEYS",
    "PARSER_VERSION",
    "SECTION_TITLE_WORDS",
    "SIDECAR_SUFFIX",
    "SUPPORTED_SUFFIXES",
    "TEXT_SUFFIXES",
    "TITLE_MAX_WORDS",
    "Article",
    "Document",
    "DocumentError",
    "Status",
    "extract_text",
    "load_document",
    "load_folder",
    "load_laws_json",
    "split_articles",
]
