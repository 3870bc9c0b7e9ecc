"""Build the default index from scratch (model already converted) and load it.

Prints build time, index size on disk, and the memory of a process holding a
loaded Searcher (model + index).

    .venv/bin/python -m benchmarks.search.build
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import REPO, publish
from knowledge import DEFAULT_MODEL, Sources, build_index, ensure_model


def folder_mb(folder: Path) -> float:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) / 2**20


PROBE = """
import sys, psutil
from pathlib import Path
from knowledge import Searcher
before = psutil.Process().memory_info().rss
searcher = Searcher(Path(sys.argv[1]))
searcher.search("thủ tục đăng ký thường trú", 5)
after = psutil.Process().memory_info().rss
print(before >> 20, after >> 20)
"""


def loaded_memory(folder: Path) -> dict[str, str]:
    """RSS of a fresh process after imports, and after loading a Searcher and searching."""
    out = subprocess.run(
        [sys.executable, "-c", PROBE, str(folder)],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
    ).stdout.split()
    imports, loaded = int(out[-2]), int(out[-1])
    return {
        "RSS after imports MB": str(imports),
        "RSS with searcher MB": str(loaded),
        "searcher adds MB": str(loaded - imports),
    }


def main() -> None:
    ensure_model(DEFAULT_MODEL)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "index"
        report = build_index(folder, Sources(), model_dir=DEFAULT_MODEL, progress=True)
        start = time.perf_counter()
        again = build_index(folder, Sources(), model_dir=DEFAULT_MODEL, progress=False)
        noop_s = time.perf_counter() - start
        size = folder_mb(folder)
        memory = loaded_memory(folder)
    rows = [
        {
            "documents": report.documents,
            "passages": report.passages,
            "sample questions": report.samples,
            "encoded texts": report.embedded,
            "build s": f"{report.seconds:.0f}",
            "rebuild unchanged s": f"{noop_s:.2f}" + (" (no work)" if again.up_to_date else ""),
            "index MB": f"{size:.1f}",
            **memory,
        }
    ]
    publish("build", rows)


if __name__ == "__main__":
    main()
