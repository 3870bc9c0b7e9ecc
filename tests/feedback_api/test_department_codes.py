"""Department codes are defined once (departments/codes.py); every data file uses only those."""

from __future__ import annotations

import json
from pathlib import Path

from feedback_api.departments.codes import CENTRAL, INSPECTORATE, KNOWN
from knowledge import law_departments

DEPARTMENTS = Path(__file__).resolve().parents[2] / "feedback_api" / "departments"


def read(name: str) -> dict:
    return json.loads((DEPARTMENTS / name).read_text(encoding="utf-8"))


def test_the_known_codes_are_fourteen_with_the_two_roles():
    assert len(KNOWN) == len(set(KNOWN)) == 14
    assert CENTRAL in KNOWN and INSPECTORATE in KNOWN


def test_the_seed_has_exactly_the_known_departments():
    assert sorted(d["code"] for d in read("seed.json")["departments"]) == sorted(KNOWN)


def test_routing_keywords_and_examples_use_known_codes():
    assert set(read("routing_data/keywords.json")["keywords"]) <= set(KNOWN)
    assert {e["department"] for e in read("routing_data/examples.json")["examples"]} <= set(KNOWN)


def test_every_law_is_owned_by_a_known_department():
    owners = law_departments()
    assert owners and set(owners.values()) <= set(KNOWN)
