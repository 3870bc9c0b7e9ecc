"""``python -m feedback_api serve|worker|migrate``, ``token create|ensure|revoke`` and
``user create|set-password``."""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from pathlib import Path


def _bootstrap_admin() -> None:
    """First run on a fresh machine: an admin account, its password printed and kept in the
    data directory until the admin replaces it (which the first login demands)."""
    import secrets

    from sqlalchemy import func, select

    from feedback_api.auth.orm import User
    from feedback_api.auth.passwords import BOOTSTRAP_USERNAME, FIRST_LOGIN_FILE
    from feedback_api.auth.service import create_user
    from feedback_api.settings import Settings

    db = _session()
    with db.session() as session:
        if session.scalar(select(func.count()).select_from(User)):
            return
        password = secrets.token_urlsafe(12)
        create_user(session, username=BOOTSTRAP_USERNAME, password=password, role="admin",
                    full_name="Quản trị viên", must_change_password=True)
    data_dir = Settings().data_dir
    data_dir.mkdir(parents=True, exist_ok=True)
    note = data_dir / FIRST_LOGIN_FILE
    fd = os.open(note, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(f"Hộp thư cán bộ: tài khoản {BOOTSTRAP_USERNAME}, mật khẩu {password}\n"
                  "(phải đổi ở lần đăng nhập đầu; tệp này sẽ tự xóa khi đổi xong)\n")
    note.chmod(0o600)
    print(f"Lần chạy đầu: đăng nhập /inbox bằng {BOOTSTRAP_USERNAME} / {password} "
          f"(đã lưu ở {note})", flush=True)


def _serve(args) -> int:
    import uvicorn

    from feedback_api.migrate import migrate_and_seed
    from feedback_api.settings import Settings

    settings = Settings()
    migrate_and_seed(settings.database_url)  # once, before any process starts
    from feedback_api.channels.wiring import describe

    for line in describe(settings):  # once, here, rather than in every API process
        print(line, flush=True)
    if args.bootstrap_admin:
        _bootstrap_admin()
    # The API processes only answer requests; background work has its own process.
    os.environ.update(CAUNOI_RUN_WORKER="0", CAUNOI_DEV_MAILBOX="0", CAUNOI_MIGRATE_ON_START="0")
    worker = None
    if settings.run_worker and not args.no_worker:
        # Routing (the e5 encoder) runs in its own, lower-priority process: sharing the API's
        # interpreter lock with it doubled intake latency under load. The supervisor starts it
        # again whenever it dies (with backoff), and /readyz tells whether it is alive.
        import logging

        from feedback_api.worker import WorkerSupervisor

        logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
        worker = WorkerSupervisor().start()
    mailbox = None  # a thread; the worker is spawned without preexec_fn, so forks stay safe
    if settings.dev_mailbox:
        from feedback_api.notify.devmail import start_dev_mailbox

        mailbox = start_dev_mailbox(settings.smtp_host, settings.smtp_port, settings.mail_dir)
    workers = args.workers or settings.api_workers
    print(f"Cầu Nối đang chạy: http://{args.host}:{args.port}/docs · hộp thư: /inbox", flush=True)
    try:
        uvicorn.run(
            "feedback_api.main:create_app",
            factory=True,
            workers=workers if workers > 1 else None,
            host=args.host,
            port=args.port,
            log_level="warning",
        )
    finally:
        if worker is not None:
            worker.stop(timeout=15)
        if mailbox is not None:
            mailbox.stop()
    return 0


def _worker(args) -> int:
    from feedback_api.worker import run_worker_process

    return run_worker_process()


def _migrate(args) -> int:
    from feedback_api.migrate import migrate_and_seed
    from feedback_api.settings import Settings

    migrate_and_seed(Settings().database_url)
    print("Cơ sở dữ liệu đã ở phiên bản mới nhất.")
    return 0


def _session():
    from feedback_api.db import Database
    from feedback_api.migrate import migrate_and_seed
    from feedback_api.settings import Settings

    url = Settings().database_url
    migrate_and_seed(url)
    return Database(url)


def _token(args) -> int:
    from feedback_api.auth.service import create_token

    db = _session()
    with db.session() as session:
        secret = create_token(session, name=args.name, role=args.role)
    print(f"Mã truy cập cho '{args.name}' (vai trò {args.role}); chỉ hiện một lần:")
    print(secret)
    return 0


def _token_revoke(args) -> int:
    """Revoke every live token of a name. Other running API processes may accept it for up to
    30 more seconds (their cache); the database refuses it at once."""
    from feedback_api.auth.service import revoke_tokens

    db = _session()
    with db.session() as session:
        count = revoke_tokens(session, name=args.name, actor="cli")
    if not count:
        print(f"Không có mã truy cập nào còn hiệu lực mang tên '{args.name}'.", file=sys.stderr)
        return 2
    print(f"Đã thu hồi {count} mã truy cập '{args.name}' (các tiến trình API khác ngừng nhận "
          "trong vòng 30 giây).")
    return 0


def _token_ensure(args) -> int:
    """Reuse the token saved in ``--file`` while the database accepts it, else make a new one."""
    from feedback_api.auth.service import create_token, principal_for_token

    path = Path(args.file)
    db = _session()
    with db.session() as session:
        saved = path.read_text().strip() if path.is_file() else ""
        principal = principal_for_token(session, token=saved) if saved else None
        if principal is not None and principal.role == args.role:
            print(f"Dùng lại mã truy cập trong {path}")
            return 0
        secret = create_token(session, name=args.name, role=args.role)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.write_text(secret + "\n")
    print(f"Đã tạo mã truy cập '{args.name}' (vai trò {args.role}) và lưu vào {path}")
    return 0


def _user(args) -> int:
    from feedback_api.auth.service import create_user
    from feedback_api.errors import DomainError

    password = args.password or os.environ.get("CAUNOI_PASSWORD") or getpass.getpass("Mật khẩu: ")
    db = _session()
    try:
        with db.session() as session:
            user = create_user(
                session,
                username=args.username,
                password=password,
                role=args.role,
                full_name=args.full_name or "",
                department=args.department,
                must_change_password=args.must_change,
            )
    except DomainError as exc:
        print(exc.message, file=sys.stderr)
        return 2
    print(f"Đã tạo tài khoản {user.username} ({user.role}).")
    return 0


def _new_password() -> str | None:
    """The new password: one line of stdin when piped, else typed twice (None: no match)."""
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("Mật khẩu mới: ")
    return first if getpass.getpass("Nhập lại mật khẩu mới: ") == first else None


def _user_set_password(args) -> int:
    """A new password for an account; all its sessions end (e.g. a forgotten password)."""
    from sqlalchemy import select

    from feedback_api.auth.orm import User
    from feedback_api.auth.passwords import forget_first_login, set_password
    from feedback_api.errors import DomainError
    from feedback_api.settings import Settings

    password = _new_password()
    if password is None:
        print("Hai lần nhập mật khẩu không khớp nhau.", file=sys.stderr)
        return 2
    db = _session()
    try:
        with db.session() as session:
            user = session.scalar(select(User).where(User.username == args.username))
            if user is None:
                print(f"Không có tài khoản '{args.username}'.", file=sys.stderr)
                return 2
            set_password(session, user=user, password=password, actor="cli",
                         must_change=args.must_change)
    except DomainError as exc:
        print(exc.message, file=sys.stderr)
        return 2
    forget_first_login(Settings().data_dir, user)
    print(f"Đã đổi mật khẩu của {args.username}; mọi phiên đăng nhập của tài khoản đã kết thúc.")
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m feedback_api")
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("serve", help="chạy API, hộp thư và bộ xử lý nền")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=8000)
    s.add_argument(
        "--bootstrap-admin",
        action="store_true",
        help="tạo tài khoản admin nếu chưa có tài khoản nào (lần chạy đầu)",
    )
    s.add_argument(
        "--no-worker",
        action="store_true",
        help="không chạy bộ xử lý nền (chạy riêng: python -m feedback_api worker)",
    )
    s.add_argument("--workers", type=int, help="số tiến trình API (mặc định 2)")
    s.set_defaults(func=_serve)
    sub.add_parser("worker", help="chỉ chạy bộ xử lý nền").set_defaults(func=_worker)
    sub.add_parser("migrate", help="cập nhật cấu trúc cơ sở dữ liệu").set_defaults(func=_migrate)
    t = sub.add_parser("token", help="mã truy cập API").add_subparsers(dest="action", required=True)
    tc = t.add_parser("create", help="tạo mã truy cập; dòng cuối là mã")
    tc.add_argument("--role", required=True, choices=["service", "admin", "triage"])
    tc.add_argument("--name", required=True)
    tc.set_defaults(func=_token)
    te = t.add_parser("ensure", help="tạo mã và lưu vào tệp, hoặc dùng lại mã còn hiệu lực")
    te.add_argument("--role", required=True, choices=["service", "admin", "triage"])
    te.add_argument("--name", required=True)
    te.add_argument("--file", required=True, help="tệp giữ mã (quyền 600)")
    te.set_defaults(func=_token_ensure)
    tr = t.add_parser("revoke", help="thu hồi mọi mã còn hiệu lực mang tên này")
    tr.add_argument("name")
    tr.set_defaults(func=_token_revoke)
    u = sub.add_parser("user", help="tài khoản cán bộ").add_subparsers(dest="action", required=True)
    uc = u.add_parser("create", help="tạo tài khoản đăng nhập hộp thư")
    uc.add_argument("--username", required=True)
    uc.add_argument("--role", required=True, choices=["admin", "triage", "liaison"])
    uc.add_argument("--department", help="mã cơ quan (bắt buộc với liaison)")
    uc.add_argument("--full-name")
    uc.add_argument("--password", help="mặc định: hỏi, hoặc biến CAUNOI_PASSWORD")
    uc.add_argument("--must-change", action="store_true",
                    help="buộc đổi mật khẩu ở lần đăng nhập đầu")
    uc.set_defaults(func=_user)
    up = u.add_parser("set-password", help="đặt mật khẩu mới (đọc từ stdin nếu không phải "
                      "terminal); mọi phiên đăng nhập của tài khoản kết thúc")
    up.add_argument("username")
    up.add_argument("--must-change", action="store_true",
                    help="buộc đổi mật khẩu ở lần đăng nhập sau")
    up.set_defaults(func=_user_set_password)
    args = p.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
