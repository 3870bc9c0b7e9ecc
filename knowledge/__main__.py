"""Command line: ``python -m knowledge build | search | eval | calibrate | model``.

``build`` indexes the default corpus (its laws from ``CAUNOI_LAWS_FILE`` or
``../shared/data/legal/laws.json``, see :mod:`knowledge.sources`) plus any ``--laws``,
``--docs`` and ``--samples`` given; ``--no-default-corpus`` indexes only those.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from knowledge.index import DEFAULT_INDEX, DEFAULT_MODEL
from knowledge.sources import CORPUS, Sources


def _sources(args: argparse.Namespace) -> Sources:
    base = Sources() if not args.no_default_corpus else Sources(laws=(), folders=(), samples=())
    return Sources(
        laws=base.laws + tuple(args.laws or ()),
        folders=base.folders + tuple(args.docs or ()),
        law_departments=CORPUS / "law_departments.json",
        samples=base.samples + tuple(args.samples or ()),
    )


def cmd_build(args: argparse.Namespace) -> int:
    from knowledge.e5.convert import ensure_model
    from knowledge.index import build_index

    sources = _sources(args)  # a missing laws file stops here, before any slow step
    ensure_model(args.model)
    report = build_index(
        args.index, sources, model_dir=args.model, budget=args.budget, force=args.force
    )
    for err in report.errors:
        print(f"Bỏ qua: {err}", file=sys.stderr)
    if report.up_to_date:
        print(f"Chỉ mục đã cập nhật, không có gì thay đổi ({report.passages} đoạn): {args.index}")
        return 0
    print(
        f"Đã xây chỉ mục {args.index}: {report.documents} văn bản, {report.passages} đoạn, "
        f"{len(report.changed)} văn bản mới/thay đổi, {len(report.removed)} bị gỡ, "
        f"{report.samples} câu hỏi mẫu, mã hóa {report.embedded} đoạn và câu, "
        f"{report.seconds:.1f} giây."
    )
    for label, names in (("Mới/thay đổi", report.changed), ("Đã gỡ khỏi chỉ mục", report.removed)):
        if names and len(names) <= 20:
            print(f"  {label}: {', '.join(names)}")
    return 0


def _searcher(args: argparse.Namespace):
    from knowledge.search import Searcher

    return Searcher(args.index, model_dir=args.model)


def cmd_search(args: argparse.Namespace) -> int:
    result = _searcher(args).search(args.text, args.k)
    if args.json:
        print(json.dumps(result.to_dict(), ensure_ascii=False))
        return 0
    if result.query.expanded != result.query.original:
        print(f"Hiểu là: {result.query.expanded}")
    verdict = "chắc chắn" if result.confident else "chưa chắc chắn"
    print(f"Độ tin cậy: {result.confidence:.2f} ({verdict})\n")
    for i, hit in enumerate(result.hits, 1):
        print(f"{i}. [{hit.score:.3f}] {hit.passage.citation} – {hit.passage.article_title}")
        print(f"   {hit.passage.text[:300]}{'…' if len(hit.passage.text) > 300 else ''}\n")
    if not result.hits:
        print("Không tìm thấy đoạn văn bản nào phù hợp.")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from knowledge.evaluate import evaluate, load_questions
    from vietnamese import fold

    questions = load_questions(args.questions)
    searcher = _searcher(args)

    def rank(text: str, k: int) -> list[tuple[str, str]]:
        text = fold(text) if args.strip_accents else text
        hits = searcher.search(text, k).hits
        return [(h.passage.doc_id, h.passage.article_id) for h in hits]

    report = evaluate(questions, rank, k=args.k, progress=not args.json)
    data = report.to_dict()
    if args.json:
        print(json.dumps(data))
        return 0
    print(f"{args.questions} ({report.n} câu)")
    for key, value in data.items():
        print(f"  {key:<10} {value}")
    return 0


def cmd_calibrate(args: argparse.Namespace) -> int:
    from knowledge.calibrate import calibrate

    calibration = calibrate(_searcher(args), args.questions)
    calibration.save()
    print(json.dumps(calibration.__dict__, ensure_ascii=False, indent=1))
    return 0


def cmd_model(args: argparse.Namespace) -> int:
    from knowledge.e5 import onnx_export
    from knowledge.e5.convert import ensure_model

    dest = ensure_model(args.model, progress=True)
    if not onnx_export.ensure(dest):
        print("Không tạo được bộ mã hóa ONNX; tìm kiếm dùng torch (chậm hơn).", file=sys.stderr)
    print(dest)
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m knowledge", description="Tìm kiếm văn bản chính sách"
    )
    p.add_argument("--index", type=Path, default=DEFAULT_INDEX, help="thư mục chỉ mục")
    p.add_argument("--model", type=Path, default=DEFAULT_MODEL, help="thư mục mô hình e5")
    sub = p.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="xây hoặc cập nhật chỉ mục")
    b.add_argument("--docs", type=Path, action="append", help="thêm thư mục văn bản")
    b.add_argument("--laws", type=Path, action="append", help="thêm tệp laws.json")
    b.add_argument("--samples", type=Path, action="append",
                   help="thêm thư mục câu hỏi mẫu (*.jsonl)")
    b.add_argument("--no-default-corpus", action="store_true",
                   help="bỏ các luật, văn bản và câu hỏi mẫu có sẵn")
    b.add_argument("--budget", type=int, default=200, help="số từ tối đa mỗi đoạn")
    b.add_argument("--force", action="store_true", help="xây lại dù không có thay đổi")
    b.set_defaults(func=cmd_build)
    s = sub.add_parser("search", help="tìm kiếm một câu hỏi")
    s.add_argument("text")
    s.add_argument("--k", type=int, default=5)
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_search)
    e = sub.add_parser("eval", help="đo chất lượng trên tệp câu hỏi")
    e.add_argument("questions", type=Path)
    e.add_argument("--k", type=int, default=10)
    e.add_argument("--json", action="store_true")
    e.add_argument("--strip-accents", action="store_true", help="bỏ dấu câu hỏi trước khi tìm")
    e.set_defaults(func=cmd_eval)
    c = sub.add_parser("calibrate", help="hiệu chỉnh cờ 'confident'")
    c.add_argument("questions", type=Path, nargs="+")
    c.set_defaults(func=cmd_calibrate)
    m = sub.add_parser("model", help="chuẩn bị mô hình nhúng ngoại tuyến")
    m.set_defaults(func=cmd_model)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if getattr(args, "k", 1) < 1:
        parser().error("--k phải ≥ 1")
    try:
        return args.func(args)
    except (FileNotFoundError, ValueError) as exc:
        print(f"Lỗi: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
