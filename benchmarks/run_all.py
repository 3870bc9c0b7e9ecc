"""Run every benchmark in turn; each prints its own table and saves benchmarks/results/*.json.

.venv/bin/python benchmarks/run_all.py
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent
SCRIPTS = [
    "build.py",
    "retrieval.py",
    "confidence.py",
    "tokenization.py",
    "bm25_params.py",
    "diacritics_bench.py",
    "scale.py",
    "routing.py",
    "intake.py",
    "nlu.py",
    "nlu_linear.py",
    "assistant.py",  # 20 people chatting (2 s between their turns)
    ("assistant.py", "--think", "0"),  # 20 turns always in flight: saturation
]

if __name__ == "__main__":
    for entry in SCRIPTS:
        script, *args = (entry,) if isinstance(entry, str) else entry
        print(f"\n=== {' '.join((script, *args))} ===", flush=True)
        env = {**os.environ, "PYTHONPATH": str(HERE.parent)}
        subprocess.run([sys.executable, str(HERE / script), *args], check=True, cwd=HERE.parent,
                       env=env)
