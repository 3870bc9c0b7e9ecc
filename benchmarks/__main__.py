"""Run every benchmark in turn; each prints its own table and saves benchmarks/results/*.json.

    .venv/bin/python -m benchmarks          # all of them (about two hours on 2 cores)
    .venv/bin/python -m benchmarks search   # only those of one concern (search, routing, nlu, load)
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BENCHMARKS = [
    "search.build",
    "search.retrieval",
    "search.confidence",
    "search.tokenization",
    "search.bm25_params",
    "search.diacritics",
    "search.scale",
    "routing.departments",
    "load.intake",
    "nlu.intents",
    "nlu.linear",
    "load.assistant",  # 20 people chatting (2 s between their turns)
    ("load.assistant", "--think", "0"),  # 20 turns always in flight: saturation
    "load.channels",  # 50 citizens on Zalo and Messenger (fake platforms, stand-in Rasa)
    ("load.channels", "--postgres"),
]


def main(concerns: list[str]) -> None:
    for entry in BENCHMARKS:
        name, *args = (entry,) if isinstance(entry, str) else entry
        if concerns and name.split(".")[0] not in concerns:
            continue
        print(f"\n=== benchmarks.{' '.join((name, *args))} ===", flush=True)
        subprocess.run([sys.executable, "-m", f"benchmarks.{name}", *args], check=True, cwd=REPO)


if __name__ == "__main__":
    main(sys.argv[1:])
