"""Intake benchmark: 20 concurrent clients submit feedback for 60 s through a real server.

Reports submissions/s, latency p50/p95, lost or duplicated items (counted in the database
afterwards), idempotent resends, and the time from intake to the liaison's email arriving at a
real SMTP server (routing runs after the 201, in the worker).

    .venv/bin/python -m benchmarks.load.intake [--backend postgresql|sqlite|both] [--seconds 60]
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import secrets
import statistics
import threading
import time

from benchmarks.common import DATA, REPO, publish
from tests.feedback_api.server import Api, SmtpSink, cli, service_env

PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
MESSAGES = DATA / "routing-dev.json"


def _pg_database() -> tuple[str, callable]:
    from sqlalchemy import create_engine, text

    name = f"caunoi_bench_{secrets.token_hex(3)}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    return PG_ADMIN.rsplit("/", 1)[0] + "/" + name, drop


def _client(
    port: int, token: str, texts: list[str], stop: threading.Event, out: list, interval: float
) -> None:
    """One client; with ``interval`` > 0 it sends on a fixed schedule (open loop) and latency
    counts from the scheduled time, so a slow server cannot hide its queueing."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
    i = 0
    next_at = time.perf_counter() + random.uniform(0, interval)
    while not stop.is_set():
        if interval:
            delay = next_at - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            scheduled, next_at = next_at, next_at + interval
        else:
            scheduled = time.perf_counter()
        key = f"bench-{secrets.token_hex(8)}"
        body = json.dumps(
            {
                "kind": "complaint" if i % 3 else "proposal",
                "channel": "zalo",
                "sender_id": f"zalo-{i % 500}",
                "text": texts[i % len(texts)],
                "idempotency_key": key,
                "location": "xã Tả Van, Sa Pa",
            }
        )
        i += 1
        start = scheduled
        try:
            conn.request("POST", "/api/v1/feedback", body, headers)
            resp = conn.getresponse()
            payload = json.loads(resp.read())
            status = resp.status
        except (OSError, http.client.HTTPException, json.JSONDecodeError):
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            status, payload = 0, {}
        out.append((time.perf_counter() - start, status, key, payload.get("tracking_code"), body))
    conn.close()


def _warm_up(api, token: str, timeout: float = 180) -> None:
    """Wait until the worker process has loaded its model and routes items."""
    body = {
        "kind": "complaint",
        "channel": "api",
        "text": "Đường vào xã bị sạt lở",
        "idempotency_key": f"warmup-{secrets.token_hex(6)}",
    }
    deadline = time.time() + timeout
    while time.time() < deadline:
        status, out = api.request("POST", "/api/v1/feedback?wait=10", body, token=token)
        if status in (200, 201) and out.get("routing") == "done":
            return
    raise RuntimeError("the worker did not route the warm-up item")


def _resend(port: int, token: str, sample: list) -> int:
    """Resend some submissions with the same keys: each must come back 200 with its code."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
    ok = 0
    for _, _, _, code, body in sample:
        conn.request("POST", "/api/v1/feedback", body, headers)
        resp = conn.getresponse()
        payload = json.loads(resp.read())
        ok += resp.status == 200 and payload.get("tracking_code") == code
    conn.close()
    return ok


def _count(db_url: str) -> tuple[int, int]:
    from sqlalchemy import create_engine, text

    engine = create_engine(db_url)
    with engine.connect() as conn:
        mine = "FROM feedback_item WHERE idempotency_key LIKE 'bench-%'"
        items = conn.execute(text(f"SELECT count(*) {mine}")).scalar()
        distinct = conn.execute(text(f"SELECT count(DISTINCT idempotency_key) {mine}"))
        result = items, distinct.scalar()
    engine.dispose()
    return result


def _created_at(db_url: str) -> dict[str, float]:
    from sqlalchemy import create_engine, text

    engine = create_engine(db_url)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT tracking_code, created_at FROM feedback_item")).all()
    engine.dispose()
    out = {}
    for code, created in rows:
        if isinstance(created, str):  # SQLite returns text through a bare connection
            from datetime import datetime

            created = datetime.fromisoformat(created)
        if created.tzinfo is None:
            from datetime import UTC

            created = created.replace(tzinfo=UTC)
        out[code] = created.timestamp()
    return out


def run(backend: str, seconds: float, clients: int, drain_timeout: float, rate: float) -> dict:
    import tempfile

    from benchmarks.common import REPO as _  # noqa: F401

    model_dir = REPO / "models" / "multilingual-e5-small"
    drop = None
    if backend == "postgresql":
        db_url, drop = _pg_database()
    else:
        db_url = f"sqlite:///{tempfile.mkdtemp(prefix='caunoi-bench-')}/caunoi.db"
    texts = [m["text"] for m in json.loads(MESSAGES.read_text())]
    smtp = SmtpSink().start()
    env = service_env(db_url, model_dir, smtp.port, CAUNOI_LOAD_SEARCH="1", CAUNOI_API_WORKERS="2")
    api = Api(env)
    try:
        token = cli("token", "create", "--role", "service", "--name", "bench", env=env)
        _warm_up(api, token)
        stop, results, threads = threading.Event(), [], []
        for _ in range(clients):
            interval = clients / rate if rate else 0.0
            args = (api.port, token, texts, stop, results, interval)
            t = threading.Thread(target=_client, args=args)
            threads.append(t)
        began = time.time()
        for t in threads:
            t.start()
        time.sleep(seconds)
        stop.set()
        for t in threads:
            t.join()
        elapsed = time.time() - began
        ok = [r for r in results if r[1] == 201]
        latencies = sorted(r[0] * 1000 for r in results)
        resent_ok = _resend(api.port, token, ok[: min(200, len(ok))])
        items, distinct = _count(db_url)
        # Wait for routing and the liaisons' email to catch up with the backlog.
        deadline = time.time() + drain_timeout
        codes = {r[3] for r in ok}
        received: dict[str, float] = {}
        while time.time() < deadline:
            with smtp._lock:
                arrivals = list(smtp.arrivals.items())
            for subject, at in arrivals:
                code = next((w for w in subject.split() if w[:3] in ("PA-", "KN-", "CH-")), None)
                if code:
                    received.setdefault(code, at)
            if codes <= received.keys():
                break
            time.sleep(1.0)
        created = _created_at(db_url)
        delays = sorted(received[c] - created[c] for c in codes if c in received and c in created)
        return {
            "backend": backend,
            "clients": clients,
            "target_per_s": rate or "max",
            "seconds": round(elapsed, 1),
            "submitted": len(results),
            "created_201": len(ok),
            "errors": len(results) - len(ok),
            "per_s": round(len(ok) / elapsed, 1),
            "p50_ms": round(statistics.median(latencies), 1),
            "p95_ms": round(latencies[int(0.95 * (len(latencies) - 1))], 1),
            "rows": items,
            "lost": len(ok) - items,
            "duplicated": items - distinct,
            "resends_ok": f"{resent_ok}/{min(200, len(ok))}",
            "notified": f"{len(delays)}/{len(codes)}",
            "notify_p50_s": round(statistics.median(delays), 1) if delays else None,
            "notify_max_s": round(delays[-1], 1) if delays else None,
        }
    finally:
        api.stop()
        smtp.stop()
        if drop:
            drop()


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--backend", choices=["postgresql", "sqlite", "both"], default="both")
    p.add_argument("--seconds", type=float, default=60)
    p.add_argument("--clients", type=int, default=20)
    p.add_argument("--drain-timeout", type=float, default=900)
    p.add_argument(
        "--rate",
        type=float,
        default=150,
        help="aggregate submissions/s the clients aim for; 0 = as fast as possible",
    )
    args = p.parse_args()
    backends = ["postgresql", "sqlite"] if args.backend == "both" else [args.backend]
    rows = [run(b, args.seconds, args.clients, args.drain_timeout, args.rate) for b in backends]
    default = args.rate == 150 and args.clients == 20 and args.seconds == 60
    publish("intake" if default else f"intake-{args.clients}c-{args.rate:g}ps", rows)


if __name__ == "__main__":
    main()
