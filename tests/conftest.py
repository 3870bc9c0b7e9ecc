"""Fixtures shared by the whole suite."""

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"


@pytest.fixture(scope="session")
def model_dir() -> Path:
    """The converted e5 model folder (built once at install time; reused here)."""
    from knowledge.model_setup import ensure_model

    return ensure_model(REPO / "models" / "multilingual-e5-small")
