"""Cutting a citizen's known identifiers (channel id, phone numbers, name) out of free text.

Erasure keeps what a complaint says and removes who said it. The store knows who: the sender
id, and the phone and name the citizen consented to leave. Those strings are replaced wherever
an erased citizen's text repeats them: a phone number however it is spaced or dotted
("0987 654 321", "0987.654.321"), a name as whole words in any case. Names the store was never
told (a reply that greets "bà Lan") cannot be found this way: replies are blanked instead
(feedback.service.erase_personal_data).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

ERASED = "[đã xóa]"


class Redactor:
    """Replaces the given identifiers with ``[đã xóa]``; a no-op when given none."""

    def __init__(self, *, ids: Iterable[str | None] = (), phones: Iterable[str | None] = (),
                 names: Iterable[str | None] = ()) -> None:
        parts = [re.escape(i) for i in {i.strip() for i in ids if i and i.strip()}]
        for phone in {p for p in phones if p}:
            digits = re.sub(r"\D", "", phone)
            if len(digits) >= 6:  # a number, not a fragment that would match anything
                parts.append(r"\+?" + r"[\s.\-]*".join(digits))
                if digits.startswith("84"):  # +84 987… is also written 0987…
                    parts.append("0" + r"[\s.\-]*".join(digits[2:]))
        for name in {n.strip() for n in names if n and len(n.strip()) >= 2}:
            parts.append(r"(?<!\w)" + r"\s+".join(map(re.escape, name.split())) + r"(?!\w)")
        # longest first, so a phone number is not cut inside a longer id that holds it
        parts.sort(key=len, reverse=True)
        self.pattern = re.compile("|".join(parts), re.IGNORECASE) if parts else None

    def text(self, value: str | None) -> str | None:
        if value is None or self.pattern is None:
            return value
        return self.pattern.sub(ERASED, value)

    def deep(self, value: Any) -> Any:
        """The same, through the strings of a JSON value (an outbox payload)."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, list):
            return [self.deep(v) for v in value]
        if isinstance(value, dict):
            return {k: self.deep(v) for k, v in value.items()}
        return value
