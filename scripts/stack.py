"""Run the whole product on one machine: API (+ worker), action server and Rasa.

``python -m scripts.stack run`` is what ``make run`` calls; ``python -m scripts.stack train`` only
makes sure a Rasa model for the current ``bot/`` exists. The tests start the same processes
through the functions below, so what a newcomer runs is what the suite checks.

The Rasa model is named after a fingerprint of everything in ``bot/`` that training reads, so a
model is trained only when ``bot/`` changed; otherwise the one in ``models/rasa/`` is reused.
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import logging
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from logging.handlers import RotatingFileHandler
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
BOT = REPO / "bot"
RASA_VENV = REPO / ".venv-rasa"
RASA_MODELS = REPO / "models" / "rasa"
VAR = REPO / "var"
PY311 = REPO / ".venv" / "bin" / "python"
# Each child's log (var/log/*.log) moves to .1 … .5 when it reaches 10 MB; the oldest goes.
LOG_MAX_BYTES = 10 * 1024 * 1024
LOG_BACKUPS = 5

# What `rasa train` reads. credentials.yml, endpoints.yml and the lock and tracker stores are
# `rasa run`'s.
TRAINING_INPUTS = ("config.yml", "domain", "data", "addons")
# ... and, outside bot/, the text rules its tokenizer and question guard read (chat spellings).
SHARED_INPUTS = (REPO / "vietnamese",)
RUN_ONLY = {"lock_store.py", "tracker_store.py"}
# Components that read the search's e5 vectors (addons/e5_reader.py): their output also depends
# on the e5 model folder, the index's diacritic restorer and the chat lexicon.
E5_COMPONENTS = ("addons.linear_intents.",)


def rasa_env(**extra: str) -> dict:
    """Environment for Rasa and the action server: no telemetry (no network), quiet TensorFlow,
    ``bot/`` importable for custom components (``addons.*``) and the repository for the text rules
    they share with the search (``vietnamese``)."""
    env = {
        **os.environ,
        "RASA_TELEMETRY_ENABLED": "false",
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
        "PYTHONPATH": os.pathsep.join(
            filter(None, [str(BOT), str(REPO), os.environ.get("PYTHONPATH")])),
        **extra,
    }
    env.pop("VIRTUAL_ENV", None)
    return env


def bot_fingerprint(bot: Path = BOT) -> str:
    digest = hashlib.sha256((RASA_VENV / "pyvenv.cfg").read_bytes()
                            if (RASA_VENV / "pyvenv.cfg").is_file() else b"")
    for name in TRAINING_INPUTS:
        root = bot / name
        files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        for path in files:
            if "__pycache__" in path.parts or path.suffix == ".pyc" or path.name in RUN_ONLY:
                continue
            digest.update(str(path.relative_to(bot)).encode() + b"\0" + path.read_bytes() + b"\0")
    for root in SHARED_INPUTS:
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            if "__pycache__" not in path.parts and path.suffix != ".pyc":
                digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    config = bot / "config.yml"
    if config.is_file() and any(c in config.read_text() for c in E5_COMPONENTS):
        digest.update(b"e5:" + e5_stamp(bot).encode())
    return digest.hexdigest()[:16]


def e5_stamp(bot: Path = BOT) -> str:
    """``addons.e5_reader.stamp()`` (Rasa-free, so it loads here without ``bot/`` on the path)."""
    import importlib.util

    path = bot / "addons" / "e5_reader.py"
    spec = importlib.util.spec_from_file_location("caunoi_e5_reader", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.stamp()


def ensure_rasa_model(out: Path = RASA_MODELS, *, log=print) -> Path:
    """The model for the current ``bot/``: reused if present, else trained (a few minutes).

    Training writes to a temporary name and renames, so an interrupted run leaves no model that
    looks finished; a lock file keeps two concurrent callers from training twice.
    """
    out.mkdir(parents=True, exist_ok=True)
    name = f"caunoi-{bot_fingerprint()}"
    target = out / f"{name}.tar.gz"
    with open(out / ".train.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if target.is_file():
            log(f"Mô hình Rasa đã có cho bot/ hiện tại: {target.relative_to(REPO)}")
            return target
        log("==> Huấn luyện mô hình Rasa (bot/ đã thay đổi; mất vài phút)…")
        started = time.monotonic()
        partial = f"partial-{name}"  # no dots: Rasa cuts a --fixed-model-name at its suffix
        cmd = [str(RASA_VENV / "bin" / "rasa"), "train", "--domain", "domain", "--data", "data",
               "--config", "config.yml", "--out", str(out), "--fixed-model-name", partial]
        result = subprocess.run(cmd, cwd=BOT, env=rasa_env(), capture_output=True, text=True)
        built = out / f"{partial}.tar.gz"
        if result.returncode != 0 or not built.is_file():
            built.unlink(missing_ok=True)
            tail = "\n".join((result.stdout + result.stderr).splitlines()[-40:])
            raise RuntimeError(f"Huấn luyện Rasa thất bại:\n{tail}")
        built.rename(target)
        for old in out.glob("caunoi-*.tar.gz"):
            if old != target:
                old.unlink()
        log(f"Đã huấn luyện {target.relative_to(REPO)} trong {time.monotonic() - started:.0f} s")
        return target


def write_endpoints(path: Path, *, actions_url: str, tracker_db: Path) -> Path:
    """bot/endpoints.yml with this run's action server URL and an absolute SQLite tracker path.

    ``CAUNOI_RASA_ENDPOINTS`` names a complete file (e.g. bot/endpoints.production.yml) to use
    unchanged instead.
    """
    configured = os.environ.get("CAUNOI_RASA_ENDPOINTS")
    if configured:
        return Path(configured).resolve()
    endpoints = yaml.safe_load((BOT / "endpoints.yml").read_text())
    endpoints["action_endpoint"]["url"] = actions_url
    tracker = endpoints.get("tracker_store") or {}
    if tracker.get("dialect") == "sqlite":
        tracker_db.parent.mkdir(parents=True, exist_ok=True)
        tracker["db"] = str(tracker_db.resolve())
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(endpoints, allow_unicode=True, sort_keys=False))
    return path


def store_env(*, tracker_db: Path, outbox: Path) -> dict:
    """What the API needs to export and erase personal data in the stores of Rasa and the action
    server (feedback_api/privacy/): the SQLite tracker file ``write_endpoints`` configured (not
    with ``CAUNOI_RASA_ENDPOINTS``: set ``CAUNOI_TRACKER_STORE_URL`` beside it) and the outbox."""
    env = {"CAUNOI_ACTIONS_OUTBOX": str(outbox.resolve())}
    if not os.environ.get("CAUNOI_RASA_ENDPOINTS"):
        env["CAUNOI_TRACKER_STORE_URL"] = f"sqlite:///{tracker_db.resolve()}"
    return env


def _get(url: str, timeout: float = 2.0) -> int:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status
    except urllib.error.HTTPError as err:
        return err.code


def pump_to_rotating_log(stream, path: Path, *, max_bytes: int = LOG_MAX_BYTES,
                         backups: int = LOG_BACKUPS) -> threading.Thread:
    """Copy a child's output, line by line, into ``path``, rotated by size (the standard
    library's RotatingFileHandler), in a thread that ends with the output."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = RotatingFileHandler(path, maxBytes=max_bytes, backupCount=backups,
                                  encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(message)s"))

    def pump() -> None:
        try:
            for line in iter(stream.readline, b""):
                text = line.decode("utf-8", errors="replace").rstrip("\n")
                handler.handle(logging.makeLogRecord({"msg": text, "levelno": logging.INFO}))
        finally:
            stream.close()
            handler.close()

    thread = threading.Thread(target=pump, name=f"log-{path.name}", daemon=True)
    thread.start()
    return thread


class Service:
    """One child process with its log file (rotated by size) and a health URL."""

    def __init__(self, name: str, cmd: list[str], *, cwd: Path, env: dict, health: str,
                 log_path: Path | None, log_max_bytes: int = LOG_MAX_BYTES) -> None:
        self.name, self.health = name, health
        self.log_path = log_path
        self.proc = subprocess.Popen(
            cmd, cwd=cwd, env=env, stdout=subprocess.PIPE if log_path else None,
            stderr=subprocess.STDOUT if log_path else None, start_new_session=True)
        self._pump = None
        if log_path is not None:
            self._pump = pump_to_rotating_log(self.proc.stdout, log_path,
                                              max_bytes=log_max_bytes)

    def healthy(self) -> bool:
        try:
            return _get(self.health) == 200
        except OSError:
            return False

    def log_tail(self, lines: int = 30) -> str:
        if self.log_path is None or not self.log_path.is_file():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self, timeout: float = 30.0) -> None:
        try:
            self._stop(timeout)
        finally:
            if self._pump is not None:  # the rest of the output, once the process is gone
                self._pump.join(timeout=5)

    def _stop(self, timeout: float) -> None:
        if self.proc.poll() is not None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=timeout)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(timeout=10)


def wait_healthy(services: list[Service], timeout: float = 300.0, *, log=print) -> None:
    pending = list(services)
    deadline = time.monotonic() + timeout
    while pending:
        for service in list(pending):
            if service.proc.poll() is not None:
                raise RuntimeError(f"{service.name} đã dừng khi khởi động:\n{service.log_tail()}")
            if service.healthy():
                log(f"    {service.name} sẵn sàng")
                pending.remove(service)
        if pending and time.monotonic() > deadline:
            names = ", ".join(s.name for s in pending)
            raise RuntimeError(f"Quá {timeout:.0f} s mà chưa sẵn sàng: {names}")
        time.sleep(0.3)


def start_api(*, port: int, env: dict, args: tuple[str, ...] = (), log_path: Path | None = None,
              host: str = "127.0.0.1") -> Service:
    cmd = [str(PY311), "-m", "feedback_api", "serve", "--host", host, "--port", str(port), *args]
    return Service("API", cmd, cwd=REPO, env=env, health=f"http://127.0.0.1:{port}/healthz",
                   log_path=log_path)


def start_actions(*, port: int, api_url: str, token_file: Path, outbox: Path,
                  public_url: str, log_path: Path | None, **extra: str) -> Service:
    # rasa-sdk listens on 0.0.0.0 unless SANIC_HOST says otherwise: keep it on loopback.
    env = rasa_env(SANIC_HOST="127.0.0.1", CAUNOI_API_URL=api_url,
                   CAUNOI_SERVICE_TOKEN_FILE=str(token_file),
                   CAUNOI_ACTIONS_OUTBOX=str(outbox), CAUNOI_PUBLIC_URL=public_url, **extra)
    # `python -m actions`: rasa-sdk's server, with the outbox's delivery thread started with it
    cmd = [str(RASA_VENV / "bin" / "python"), "-m", "actions", "--port", str(port)]
    return Service("máy chủ hành động", cmd, cwd=REPO, env=env,
                   health=f"http://127.0.0.1:{port}/health", log_path=log_path)


def start_rasa(*, port: int, model: Path, endpoints: Path, log_path: Path | None,
               enable_api: bool = False, **extra: str) -> Service:
    cmd = [str(RASA_VENV / "bin" / "rasa"), "run", "--model", str(model), "--endpoints",
           str(endpoints), "--credentials", "credentials.yml", "--port", str(port),
           "--interface", "127.0.0.1"]
    if enable_api:
        cmd.append("--enable-api")
    return Service("Rasa", cmd, cwd=BOT, env=rasa_env(**extra),
                   health=f"http://127.0.0.1:{port}/webhooks/rest/", log_path=log_path)


def ensure_service_token(path: Path, env: dict) -> Path:
    subprocess.run([str(PY311), "-m", "feedback_api", "token", "ensure", "--role", "service",
                    "--name", "actions", "--file", str(path)], cwd=REPO, env=env, check=True)
    return path


def run(args) -> int:
    port, rasa_port, actions_port = args.port, args.rasa_port, args.actions_port
    model = ensure_rasa_model()
    api_url = f"http://127.0.0.1:{port}"
    public_url = os.environ.get("CAUNOI_PUBLIC_URL", f"http://{args.host}:{port}")
    env = {**os.environ, "CAUNOI_RASA_URL": f"http://127.0.0.1:{rasa_port}",
           "CAUNOI_PUBLIC_URL": public_url}
    env.setdefault("CAUNOI_DEV_MAILBOX", "1")
    env.update(store_env(tracker_db=VAR / "rasa" / "tracker.db", outbox=VAR / "actions_outbox.db"))
    token = ensure_service_token(VAR / "service_token", env)
    endpoints = write_endpoints(VAR / "rasa" / "endpoints.yml",
                                actions_url=f"http://127.0.0.1:{actions_port}/webhook",
                                tracker_db=VAR / "rasa" / "tracker.db")
    logs = VAR / "log"
    print("==> Khởi động API, máy chủ hành động và Rasa (nhật ký trong var/log/)…", flush=True)
    services = [
        start_api(port=port, env=env, args=("--bootstrap-admin",), host=args.host),
        start_actions(port=actions_port, api_url=api_url, token_file=token,
                      outbox=VAR / "actions_outbox.db", public_url=public_url,
                      log_path=logs / "actions.log"),
        start_rasa(port=rasa_port, model=model, endpoints=endpoints, log_path=logs / "rasa.log"),
    ]
    stopping = False

    def stop(*_):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        wait_healthy(services)
        print(f"\nCầu Nối đã sẵn sàng. Trò chuyện với trợ lý: {public_url}/chat"
              f" · hộp thư cán bộ: {public_url}/inbox · API: {public_url}/docs"
              "\nDừng: Ctrl+C", flush=True)
        while not stopping:
            for service in services:
                if service.proc.poll() is not None:
                    print(f"{service.name} đã dừng bất thường:\n{service.log_tail()}",
                          file=sys.stderr)
                    return 1
            time.sleep(0.5)
        return 0
    except RuntimeError as err:
        print(err, file=sys.stderr)
        return 1
    finally:
        for service in reversed(services):
            service.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.stack")
    sub = parser.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="chạy toàn bộ sản phẩm")
    r.add_argument("--host", default="127.0.0.1")
    r.add_argument("--port", type=int, default=8000)
    r.add_argument("--rasa-port", type=int, default=5005)
    r.add_argument("--actions-port", type=int, default=5055)
    r.set_defaults(func=run)
    sub.add_parser("train", help="huấn luyện mô hình Rasa nếu bot/ đã đổi").set_defaults(
        func=lambda _: print(ensure_rasa_model()) or 0)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
