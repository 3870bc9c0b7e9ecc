"""Reading Rasa NLU training files: the examples of each intent, with or without entity markup.

Used by the NLU benchmark (benchmarks/nlu/intents.py) and by tests that check the training data.
"""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

import yaml

# [text](entity) or [text]{"entity": ...}
ENTITY = re.compile(r"\[([^\]]+)\](\([^)]*\)|\{[^}]*\})")


def plain(example: str) -> str:
    """The message text without entity markup."""
    return ENTITY.sub(r"\1", example)


def load(paths: list[Path]) -> tuple[dict[str, list[str]], list[dict]]:
    """Examples by intent (entity markup kept), and the other items (regex, lookup, synonym)."""
    examples: dict[str, list[str]] = defaultdict(list)
    other: list[dict] = []
    for path in paths:
        for item in yaml.safe_load(path.read_text(encoding="utf-8"))["nlu"]:
            if "intent" in item:
                lines = item["examples"].splitlines()
                examples[item["intent"]] += [ln[2:].strip() for ln in lines if ln.startswith("- ")]
            else:
                other.append(item)
    return examples, other
