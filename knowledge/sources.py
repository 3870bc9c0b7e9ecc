"""Where the index's documents come from: the default corpus and the province's own folders.

The default corpus is the national laws (``laws.json``-shaped files: ``[{"id", "articles":
[{"id", "text"}]}]``), the documents in ``corpus/documents/`` and the sample questions in
``corpus/samples/``. Each law is mapped to its department by ``corpus/law_departments.json``
and carries its number, dates, status and validity note from ``corpus/law_metadata.json``.
The laws are third-party data and are not part of this repository; two files are read at
build time:
- the 21 laws of the ALQAC 2023 competition: :func:`laws_file`, the file named by
  ``CAUNOI_LAWS_FILE``, else ``../shared/data/legal/laws.json`` beside the clone;
- 13 laws citizens ask about (land, traffic, labour, civil status …): :func:`extra_laws_file`,
  the file named by ``CAUNOI_EXTRA_LAWS_FILE`` (empty: none), else
  ``../shared/data/legal-extra/laws-extra.json``.
A province that indexes only its own documents needs neither:
``python -m knowledge build --no-default-corpus --docs FOLDER``.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from knowledge import sample_questions
from knowledge.documents import Document, DocumentError, load_folder, load_laws_json

CORPUS = Path(__file__).parent / "corpus"
LAWS_ENV = "CAUNOI_LAWS_FILE"
EXTRA_LAWS_ENV = "CAUNOI_EXTRA_LAWS_FILE"
# beside the clone: <repo>/../shared/data/legal/laws.json and legal-extra/laws-extra.json
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
DEFAULT_LAWS = SHARED_DATA / "legal" / "laws.json"
DEFAULT_EXTRA_LAWS = SHARED_DATA / "legal-extra" / "laws-extra.json"
ONLY_PROVINCE = "python -m knowledge build --no-default-corpus --docs THƯ_MỤC"
# the same advice for make run / make test, which build the index with $(INDEX_ARGS)
ONLY_PROVINCE_MAKE = 'make run INDEX_ARGS="--no-default-corpus --docs THƯ_MỤC"'


class LawsFileMissing(FileNotFoundError):
    """The default corpus's laws file is not there; the message (one Vietnamese line) says
    what is missing and how to go on."""


def laws_file(*, only_province: str = ONLY_PROVINCE) -> Path:
    """The default corpus's laws: the file ``CAUNOI_LAWS_FILE`` names, else the shared data
    beside the clone. A named file that is missing is an error, not a reason to fall back
    to the other laws; its message ends with ``only_province``, how to index only the
    province's own documents instead."""
    named = os.environ.get(LAWS_ENV, "").strip()
    path = Path(named) if named else DEFAULT_LAWS
    if path.is_file():
        return path
    if named:
        raise LawsFileMissing(
            f"Không thấy tệp luật {LAWS_ENV}={named}. Sửa {LAWS_ENV} cho đúng tệp laws.json, "
            f"hoặc chỉ lập chỉ mục văn bản của tỉnh: {only_province}"
        )
    raise LawsFileMissing(
        f"Không thấy bộ luật mặc định ({path}). Đặt {LAWS_ENV}=đường/dẫn/laws.json, "
        f"hoặc chỉ lập chỉ mục văn bản của tỉnh: {only_province}"
    )


def extra_laws_file(*, only_province: str = ONLY_PROVINCE) -> Path | None:
    """The second file of national laws: the file ``CAUNOI_EXTRA_LAWS_FILE`` names (set but
    empty: no second file), else ``legal-extra/laws-extra.json`` of the shared data. Missing
    is an error, as for :func:`laws_file`."""
    if EXTRA_LAWS_ENV in os.environ and not os.environ[EXTRA_LAWS_ENV].strip():
        return None
    named = os.environ.get(EXTRA_LAWS_ENV, "").strip()
    path = Path(named) if named else DEFAULT_EXTRA_LAWS
    if path.is_file():
        return path
    where = f"{EXTRA_LAWS_ENV}={named}" if named else str(path)
    raise LawsFileMissing(
        f"Không thấy tệp luật bổ sung ({where}). Đặt {EXTRA_LAWS_ENV}=đường/dẫn/laws-extra.json "
        f"(hoặc để trống {EXTRA_LAWS_ENV}= để bỏ qua), "
        f"hoặc chỉ lập chỉ mục văn bản của tỉnh: {only_province}"
    )


def law_departments() -> dict[str, str]:
    """Law id -> the code of the department that owns it, from the shipped table
    (``corpus/law_departments.json``; keys starting with "_" are notes)."""
    table = json.loads((CORPUS / "law_departments.json").read_text(encoding="utf-8"))
    return {k: v for k, v in table.items() if not k.startswith("_")}


def law_metadata() -> dict[str, dict]:
    """Law id -> its number, dates, status and validity note (``corpus/law_metadata.json``)."""
    return _table(CORPUS / "law_metadata.json")


def _table(path: Path) -> dict:
    if not path.exists():
        return {}
    table = json.loads(path.read_text(encoding="utf-8"))
    return {k: v for k, v in table.items() if not k.startswith("_")}


def _default_laws() -> tuple[Path, ...]:
    laws = laws_file()  # the first file is said missing first
    extra = extra_laws_file()
    return (laws,) + ((extra,) if extra else ())


@dataclass(frozen=True)
class Sources:
    """Where the documents come from: laws.json-shaped files, document folders and folders of
    sample questions. ``Sources()`` is the default corpus: it needs :func:`laws_file`."""

    laws: tuple[Path, ...] = field(default_factory=_default_laws)
    folders: tuple[Path, ...] = (CORPUS / "documents",)
    law_departments: Path = CORPUS / "law_departments.json"
    law_metadata: Path = CORPUS / "law_metadata.json"
    samples: tuple[Path, ...] = (CORPUS / "samples",)  # folders of sample-question files

    def load(self) -> tuple[list[Document], list[DocumentError]]:
        owners = _table(self.law_departments)
        metadata = _table(self.law_metadata)
        docs: list[Document] = []
        errors: list[DocumentError] = []
        for path in self.laws:
            docs.extend(load_laws_json(path, department_of=owners.get, metadata_of=metadata.get))
        for folder in self.folders:
            found, failed = load_folder(folder)
            docs.extend(found)
            errors.extend(failed)
        return _unique(docs, errors), errors

    def load_samples(
        self,
    ) -> tuple[list[sample_questions.Sample], list[sample_questions.SampleError]]:
        return sample_questions.load(self.samples)


def _unique(docs: list[Document], errors: list[DocumentError]) -> list[Document]:
    """Keep the first document of each id; a later one with the same id is an error."""
    seen: set[str] = set()
    kept = []
    for doc in docs:
        if doc.doc_id in seen:
            errors.append(DocumentError(f"Trùng mã văn bản “{doc.doc_id}”: bản sau bị bỏ qua."))
            continue
        seen.add(doc.doc_id)
        kept.append(doc)
    return kept


def main(argv: list[str]) -> int:
    """``python -m knowledge.sources [INDEX_ARGS…]``: what make run and make test check before
    they install anything, so a missing laws file is said at once, not after minutes of
    installing. Standard library only (it runs on the system's Python)."""
    if "--no-default-corpus" in argv:
        return 0
    try:
        laws_file(only_province=ONLY_PROVINCE_MAKE)
        extra_laws_file(only_province=ONLY_PROVINCE_MAKE)
    except LawsFileMissing as exc:
        print(f"Lỗi: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
