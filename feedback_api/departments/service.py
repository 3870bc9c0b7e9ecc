"""Department queries and edits. Raise domain errors; never HTTP."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from feedback_api.departments.orm import Department, Liaison
from feedback_api.errors import NotFound

SEED = Path(__file__).with_name("seed.json")


def seed_departments(session: Session, *, path: Path = SEED) -> int:
    """Insert the seed departments that are missing; never overwrite admins' edits."""
    existing = set(session.scalars(select(Department.code)))
    added = 0
    for row in json.loads(path.read_text(encoding="utf-8"))["departments"]:
        if row["code"] in existing:
            continue
        dept = Department(code=row["code"], name=row["name"], mandate=row["mandate"])
        dept.liaisons.append(Liaison(**row["liaison"]))
        session.add(dept)
        added += 1
    session.flush()
    return added


def list_departments(session: Session) -> list[Department]:
    """All departments, in code order."""
    return list(session.scalars(select(Department).order_by(Department.code)))


def department_names(session: Session) -> dict[str, str]:
    """Department code -> name, in code order."""
    return {d.code: d.name for d in list_departments(session)}


def get_department(session: Session, *, code: str) -> Department:
    """One department or NotFound."""
    dept = session.get(Department, code)
    if dept is None:
        raise NotFound(f"Không có cơ quan mã '{code}'.")
    return dept


def primary_liaison(dept: Department) -> Liaison | None:
    """The liaison who is notified: the first active one with an email."""
    return next((li for li in dept.liaisons if li.active and li.email), None)


def update_department(
    session: Session,
    *,
    code: str,
    name: str | None = None,
    mandate: str | None = None,
    webhook_url: str | None = None,
    liaison: dict | None = None,
) -> Department:
    """Edit a department's name, mandate, webhook, or its primary liaison's details."""
    dept = get_department(session, code=code)
    if name is not None:
        dept.name = name
    if mandate is not None:
        dept.mandate = mandate
    if webhook_url is not None:
        dept.webhook_url = webhook_url or None
    if liaison is not None:
        current = dept.liaisons[0] if dept.liaisons else None
        if current is None:
            current = Liaison(name=liaison.get("name", ""))
            dept.liaisons.append(current)
        for key in ("name", "email", "zalo_user_id", "phone", "active"):
            if key in liaison and liaison[key] is not None:
                setattr(current, key, liaison[key])
    session.flush()
    return dept
