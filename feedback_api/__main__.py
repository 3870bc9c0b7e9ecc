"""``python -m feedback_api serve [--host H] [--port P]``."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m feedback_api")
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("serve", help="chạy dịch vụ HTTP")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=8000)
    args = p.parse_args(argv)
    import uvicorn

    from feedback_api.main import create_app

    print(f"Cầu Nối đang chạy: http://{args.host}:{args.port}/docs", flush=True)
    uvicorn.run(create_app(), host=args.host, port=args.port, log_level="warning")
    return 0


if __name__ == "__main__":
    sys.exit(main())
