"""One Settings object reads the environment (prefix CAUNOI_); nothing else does."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from knowledge.index import DEFAULT_INDEX, DEFAULT_MODEL


@dataclass(frozen=True)
class Settings:
    index_dir: Path = DEFAULT_INDEX
    model_dir: Path = DEFAULT_MODEL
    max_query_chars: int = 1000
    max_k: int = 20

    @classmethod
    def from_env(cls) -> Settings:
        env = os.environ
        return cls(
            index_dir=Path(env.get("CAUNOI_INDEX_DIR", DEFAULT_INDEX)),
            model_dir=Path(env.get("CAUNOI_MODEL_DIR", DEFAULT_MODEL)),
        )
