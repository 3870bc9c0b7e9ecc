"""Department queries and edits. Raise domain errors; never HTTP."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from feedback_api.departments import webhooks
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
    allow_private_webhooks: bool = False,
) -> Department:
    """Edit a department's name, mandate, webhook, or its primary liaison's details.

    A webhook URL must point at a public address (webhooks.check) unless
    ``allow_private_webhooks``; the first URL a department gets also makes its first secret
    (version 1), which the caller shows once.
    """
    dept = get_department(session, code=code)
    if webhook_url:  # checked first, so a refused URL leaves nothing half-written
        webhooks.check(webhook_url, allow_private=allow_private_webhooks)
    if name is not None:
        dept.name = name
    if mandate is not None:
        dept.mandate = mandate
    if webhook_url is not None:
        dept.webhook_url = webhook_url.strip() or None
        if dept.webhook_url and not dept.webhook_secret_version:
            dept.webhook_secret_version = 1
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


def rotate_webhook_secret(session: Session, *, code: str) -> Department:
    """A new webhook secret for the department (the old one stops working at once)."""
    dept = get_department(session, code=code)
    dept.webhook_secret_version = (dept.webhook_secret_version or 0) + 1
    session.flush()
    return dept
