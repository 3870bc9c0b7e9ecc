"""Tracking codes: short, random, unguessable, easy to read aloud (no 0/O, 1/I)."""

from __future__ import annotations

import re
import secrets

ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # 32 symbols: 5 bits each
LENGTH = 8  # 40 bits: 10^12 codes, so guessing one is hopeless
PREFIX = {"complaint": "PA", "proposal": "KN", "question": "CH"}
PATTERN = re.compile(r"^[A-Z]{2}-[0-9A-Z]{6,10}$")
# A code reserved by a client (the assistant) before submitting: exactly what new_code makes.
RESERVED = rf"^(?:{'|'.join(PREFIX.values())})-[{ALPHABET}]{{{LENGTH}}}$"


def new_code(kind: str) -> str:
    return f"{PREFIX[kind]}-" + "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))


def is_valid(code: str) -> bool:
    return bool(PATTERN.fullmatch(code))


def fits_kind(code: str, kind: str) -> bool:
    """Does a reserved code carry the prefix of this kind (PA- complaint, KN- proposal, CH-)?"""
    return code.startswith(PREFIX[kind] + "-")
