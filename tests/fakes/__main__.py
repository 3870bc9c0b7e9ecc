"""``python -m tests.fakes``: fake Zalo and Messenger for a developer at the keyboard.

``serve`` runs both fakes, writes the settings that point the API at them and shows every
message the product sends to a citizen; ``say`` plays a citizen writing to the OA or the Page
(a webhook event signed with the secrets of that file). Recipe:

    python -m tests.fakes serve                   # terminal 1
    set -a; . var/fake-platforms.env; set +a; make run   # terminal 2
    python -m tests.fakes say zalo "xin chào"     # terminal 3
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from tests.fakes.platforms import (
    FakeMeta,
    FakePlatform,
    FakeZalo,
    messenger_batch,
    messenger_headers,
    messenger_location,
    messenger_postback,
    messenger_text,
    zalo_event,
    zalo_headers,
    zalo_location_event,
)

ENV_FILE = Path("var/fake-platforms.env")


def settings_for(zalo: FakeZalo, meta: FakeMeta, *, oa_secret: str,
                 verify_token: str) -> dict[str, str]:
    """The API's settings (CAUNOI_*) that point it at the two fakes."""
    return {
        "CAUNOI_ZALO_APP_ID": zalo.app_id,
        "CAUNOI_ZALO_APP_SECRET": zalo.app_secret,
        "CAUNOI_ZALO_OA_SECRET": oa_secret,
        "CAUNOI_ZALO_REFRESH_TOKEN": zalo.refresh_token,
        "CAUNOI_ZALO_ACCESS_TOKEN": zalo.access_token,
        "CAUNOI_ZALO_OPENAPI_URL": zalo.url,
        "CAUNOI_ZALO_OAUTH_URL": zalo.url,
        "CAUNOI_MESSENGER_APP_SECRET": meta.app_secret,
        "CAUNOI_MESSENGER_VERIFY_TOKEN": verify_token,
        "CAUNOI_MESSENGER_PAGE_TOKEN": meta.page_token,
        "CAUNOI_MESSENGER_GRAPH_URL": meta.url,
    }


def write_env(path: Path, values: dict[str, str]) -> None:
    """Owner-only (0600): the file holds secrets, even if fake ones. Written whole, then
    renamed, so a reader never sees half of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # a file left over keeps its old mode through open()
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.writelines(f"{key}={value}\n" for key, value in values.items())
    os.replace(partial, path)


def read_env(path: Path) -> dict[str, str]:
    lines = path.read_text(encoding="utf-8").splitlines()
    pairs = (line.split("=", 1) for line in lines if "=" in line and not line.startswith("#"))
    return {key.strip(): value.strip() for key, value in pairs}


def describe(fake: FakePlatform, entry: dict) -> str:
    """One message the product sent, as the citizen would read it."""
    user = entry[fake.recipient_key]
    lines = [f"[{fake.name} → {user}] {fake.text_of(entry['message']) or '(không có chữ)'}"]
    titles = [button["title"] for button in fake.buttons_of(entry["message"])]
    if titles:
        lines.append("    nút: " + " | ".join(titles))
    return "\n".join(lines)


def serve(env_file: Path, zalo_port: int, meta_port: int) -> int:
    zalo = FakeZalo(app_id=str(secrets.randbelow(9 * 10**18) + 10**18),
                    app_secret=secrets.token_urlsafe(24), access_token=secrets.token_urlsafe(32),
                    refresh_token=secrets.token_urlsafe(32), port=zalo_port)
    meta = FakeMeta(app_secret=secrets.token_urlsafe(24), page_token=secrets.token_urlsafe(48),
                    port=meta_port)
    try:
        zalo.start()
        meta.start()
    except OSError as err:
        zalo.stop()
        print(f"Không mở được cổng cho nền tảng giả ({err}). Chọn cổng khác bằng --zalo-port "
              "hoặc --meta-port.", file=sys.stderr)
        return 1
    write_env(env_file, settings_for(zalo, meta, oa_secret=secrets.token_urlsafe(24),
                                     verify_token=secrets.token_urlsafe(16)))
    print(f"Đã chạy Zalo OA giả tại {zalo.url} và Messenger (Graph API) giả tại {meta.url}.")
    print(f"Đã ghi khoá và địa chỉ của chúng vào {env_file} (chỉ chủ tệp đọc được).")
    print("Cách dùng:")
    print(f"  1. Chạy API với các biến này: set -a; . {env_file}; set +a; make run")
    same_file = "" if env_file == ENV_FILE else f" --env-file {env_file}"
    print(f'  2. Đóng vai người dân: python -m tests.fakes say zalo "xin chào"{same_file} '
          '(hoặc say messenger ..., --payload /affirm, --location 22.48,103.97)')
    print("Tin nhắn hệ thống gửi cho người dân sẽ hiện dưới đây. Nhấn Ctrl-C để dừng.",
          flush=True)
    shown = {id(zalo): (0, 0), id(meta): (0, 0)}
    # Ctrl-C (SIGINT) stops it even when started in the background of a shell without job
    # control, which starts it with SIGINT ignored (Python then installs no handler)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        while True:
            for fake in (zalo, meta):
                sent, failed = shown[id(fake)]
                for entry in fake.sent[sent:]:
                    print(describe(fake, entry), flush=True)
                for entry in fake.failed[failed:]:
                    print(f"[{fake.name} ✗ {entry[fake.recipient_key]}] bị từ chối "
                          f"({entry['reason']}): {entry['detail']}", flush=True)
                shown[id(fake)] = (len(fake.sent), len(fake.failed))
            time.sleep(0.2)
    except KeyboardInterrupt:
        print("Đã dừng các nền tảng giả.")
    finally:
        zalo.stop()
        meta.stop()
    return 0


def say(args: argparse.Namespace) -> int:
    """POST one signed citizen event to the API's webhook; print the HTTP status."""
    try:
        env = read_env(args.env_file)
    except OSError:
        print(f"Không đọc được {args.env_file}: hãy chạy 'python -m tests.fakes serve' trước.",
              file=sys.stderr)
        return 2
    location = None
    if args.location:
        try:
            lat, long = (float(part) for part in args.location.split(","))
        except ValueError:
            print("--location phải có dạng VĨ_ĐỘ,KINH_ĐỘ, ví dụ 22.48,103.97", file=sys.stderr)
            return 2
        location = (lat, long)
    if args.platform == "zalo":
        app_id = env["CAUNOI_ZALO_APP_ID"]
        if location:
            raw = zalo_location_event(app_id=app_id, user_id=args.user, latitude=location[0],
                                      longitude=location[1])
        else:  # a tapped button arrives as a text message whose text is the payload
            raw = zalo_event(app_id=app_id, user_id=args.user, text=args.payload or args.text)
        headers = zalo_headers(raw, app_id=app_id, oa_secret=env["CAUNOI_ZALO_OA_SECRET"])
    else:
        if location:
            event = messenger_location(args.user, *location)
        elif args.payload:
            event = messenger_postback(args.user, args.payload, args.payload)
        else:
            event = messenger_text(args.user, args.text)
        raw = messenger_batch([[event]])
        headers = messenger_headers(raw, env["CAUNOI_MESSENGER_APP_SECRET"])
    url = f"{args.api.rstrip('/')}/webhooks/{args.platform}"
    request = urllib.request.Request(url, data=raw, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            status = response.status
    except urllib.error.HTTPError as err:
        err.close()
        status = err.code
    except OSError as err:
        print(f"Không gửi được tới {url}: {err}", file=sys.stderr)
        return 1
    print(f"{url}: HTTP {status}")
    return 0 if status == 200 else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.fakes",
                                     description="Zalo OA và Messenger giả cho lập trình viên.")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("serve", help="chạy hai nền tảng giả và ghi tệp cấu hình")
    run.add_argument("--env-file", type=Path, default=ENV_FILE)
    run.add_argument("--zalo-port", type=int, default=8091)
    run.add_argument("--meta-port", type=int, default=8092)
    speak = commands.add_parser("say", help="gửi một tin nhắn của người dân tới API")
    speak.add_argument("platform", choices=("zalo", "messenger"))
    speak.add_argument("text", nargs="?", default="", help="nội dung tin nhắn")
    speak.add_argument("--user", default="u1", help="mã người dùng trên nền tảng")
    speak.add_argument("--api", default="http://127.0.0.1:8000", help="địa chỉ API")
    speak.add_argument("--env-file", type=Path, default=ENV_FILE)
    choice = speak.add_mutually_exclusive_group()
    choice.add_argument("--payload", help="bấm nút mang payload này, ví dụ /affirm")
    choice.add_argument("--location", help="gửi vị trí VĨ_ĐỘ,KINH_ĐỘ")
    args = parser.parse_args(argv)
    if args.command == "serve":
        return serve(args.env_file, args.zalo_port, args.meta_port)
    if not (args.text or args.payload or args.location):
        speak.error("cần nội dung tin nhắn, --payload hoặc --location")
    return say(args)


if __name__ == "__main__":
    sys.exit(main())
