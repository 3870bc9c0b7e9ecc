"""Metadata: validating a file's metadata dict and merging folder tables with sidecars.

A folder-level ``metadata.json`` maps file name -> metadata dict; a sidecar
``<file name>.meta.json`` next to a file overrides it key by key.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any, cast

from knowledge.documents.articles import _plain
from knowledge.documents.model import (
    FOLDER_METADATA,
    META_KEYS,
    SIDECAR_SUFFIX,
    DocumentError,
    Status,
    read_json,
)
from vietnamese import fold, normalize

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
    for key in ("issued", "effective", "expires"):
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
    return read_json(path, expect=dict, what="siêu dữ liệu ", shape="một đối tượng JSON {…}")


def _status_of(meta: Mapping[str, str], path: Path, lines: list[str]) -> Status:
    """The metadata status; without one, a file that calls itself "Dự thảo" is a draft."""
    if "status" in meta:
        return cast(Status, meta["status"])
    name = " " + re.sub(r"[^a-z0-9]+", " ", fold(path.stem))
    if " du thao" in name or any(fold(_plain(line)).startswith("du thao") for line in lines[:5]):
        return "draft"
    return "in_force"


# --------------------------------------------------------------------------- folder metadata


def _is_hidden(path: Path, folder: Path) -> bool:
    """Hidden files and folders, and Office lock files ("~$report.docx")."""
    return any(part.startswith((".", "~$")) for part in path.relative_to(folder).parts)


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
