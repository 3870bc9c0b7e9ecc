"""Chat spellings ("ko", "đc", "vk", "ntn") and the full words they stand for: one table,
``chat_spellings.tsv``, read by the search (which spells them out before it looks anything up)
and by the intent classifier's tokenizer (which counts their folded form).

Each row says which reader uses it (``both``, ``search`` or ``nlu``); the file's header says
why the two differ where they do.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from vietnamese.text import fold, normalize

SPELLINGS_FILE = Path(__file__).with_name("chat_spellings.tsv")
READERS = ("both", "search", "nlu")
_REPEATS = re.compile(r"(\w)\1{2,}")


def read_table(path: Path = SPELLINGS_FILE) -> list[tuple[str, str, str]]:
    """``(typed, full, reader)`` rows in file order; a malformed row is a ``ValueError`` that
    names its line."""
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        cells = line.split("\t")
        if len(cells) != 3 or cells[2] not in READERS or not cells[0] or not cells[1]:
            raise ValueError(f"{path.name}:{number}: cần 3 cột typed<TAB>full<TAB>both|search|nlu")
        rows.append((normalize(cells[0]), normalize(cells[1]), cells[2]))
    return rows


def search_spellings(path: Path = SPELLINGS_FILE) -> list[tuple[str, str]]:
    """``(typed, full)`` pairs the search spells out, in file order."""
    return [(typed, full) for typed, full, reader in read_table(path) if reader != "nlu"]


@lru_cache(maxsize=4)
def nlu_spellings(path: Path = SPELLINGS_FILE) -> dict[str, str]:
    """Folded chat spelling -> folded full words, for the intent classifier's lemmas."""
    return {fold(typed): fold(full) for typed, full, reader in read_table(path)
            if reader != "search"}


def canonical(token: str, *, chat_spellings: bool = True) -> str:
    """The folded, de-slanged form of one token ("Đc" -> "duoc", "khôngggg" -> "khong")."""
    folded = _REPEATS.sub(r"\1", fold(token))
    if chat_spellings:
        return nlu_spellings().get(folded, folded)
    return folded
