"""Rendering shared by the platforms: long text split at sentence boundaries, choices that do
not fit as buttons turned into numbered lines the citizen answers with a digit."""

from __future__ import annotations

import re

SENTENCE_END = re.compile(r"(?<=[.!?…:;])\s+|\n+")
CHOOSE = "Bạn chọn một trong các lựa chọn sau:"  # buttons that came without a text
NUMBERED_HINT = "Bạn trả lời bằng số thứ tự (ví dụ: 1)."


def split_text(text: str, limit: int) -> list[str]:
    """``text`` in pieces of at most ``limit`` characters, cut after a sentence or a line when
    one ends inside the piece, else at a space, else anywhere (a very long word)."""
    text = text.strip()
    pieces: list[str] = []
    while len(text) > limit:
        window = text[: limit + 1]
        cut = max((m.end() for m in SENTENCE_END.finditer(window) if m.end() <= limit),
                  default=0)
        if cut < limit // 3:  # no sentence end in a useful place: a space will do
            space = window.rfind(" ")
            cut = space + 1 if space > limit // 3 else limit
        pieces.append(text[:cut].rstrip())
        text = text[cut:].lstrip()
    if text:
        pieces.append(text)
    return pieces


def numbered(text: str, buttons: list[dict]) -> tuple[str, dict[str, str]]:
    """The text followed by one numbered line per choice; returns it with digit -> payload."""
    lines = [text.rstrip()] if text.strip() else []
    choices: dict[str, str] = {}
    for n, button in enumerate(buttons, start=1):
        lines.append(f"{n}. {button['title']}")
        choices[str(n)] = button["payload"]
    lines.append(NUMBERED_HINT)
    return "\n".join(lines), choices


def choice_for(text: str, choices: dict[str, str]) -> str | None:
    """The payload a citizen chose by answering with a digit ("2", " 2. "), if any."""
    key = text.strip().rstrip(".").strip()
    return choices.get(key) if key.isdigit() else None
