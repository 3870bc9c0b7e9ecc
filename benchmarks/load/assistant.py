"""Latency of the whole assistant under load: N concurrent chat conversations for S seconds.

Starts what `make run` starts (API with its worker, the action server, `rasa run` with the
current model) on free ports with a fresh SQLite database, then drives conversations through
Rasa's REST channel: most ask a policy question (dev and colloquial questions, with and without
diacritics) and vote; the rest file a complaint through the whole form. Prints a table of turn
latencies, throughput, and the peak memory and CPU time of each process (children included).

    .venv/bin/python -m benchmarks.load.assistant [--clients 20] [--seconds 60] [--complaints 0.3]
                                             [--think 2]

A conversation is a person typing: between their turns each client waits ``--think`` seconds on
average (uniform in 0.5x-1.5x). ``--think 0`` sends the next turn the moment the reply arrives:
20 clients then keep 20 turns in flight at all times, which measures the saturation point of
the 2-core machine, not what 20 people chatting see. Both are reported in the README.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import psutil

from benchmarks.common import DATA, REPO, SHARED, publish
from scripts.stack import (
    ensure_rasa_model,
    ensure_service_token,
    start_actions,
    start_api,
    start_rasa,
    wait_healthy,
    write_endpoints,
)
from tests.e2e.conftest import answer_payload, buttons, file_feedback, http
from tests.e2e.test_ask import strip_diacritics
from tests.feedback_api.conftest import free_port
from tests.feedback_api.server import SmtpSink, service_env

COMPLAINTS = [
    "Tôi muốn phản ánh: đường vào thôn bị sạt lở hai tháng nay, xe máy không đi được",
    "phan anh: dien o ban mat lien tuc may ngay nay, tre con khong hoc bai duoc",
    "Kiến nghị xã mở thêm lớp mầm non cho trẻ ở bản xa, các cháu phải đi bộ 5 km",
    "trạm y tế xã ko có bác sĩ trực buổi tối, e muốn phản ánh ạ",
]


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def questions() -> list[str]:
    texts = [q["text"] for q in json.loads((SHARED / "questions-dev.json").read_text())]
    colloquial = DATA / "colloquial-dev.json"
    if colloquial.exists():
        texts += [q["text"] for q in json.loads(colloquial.read_text())]
    return texts + [strip_diacritics(t) for t in texts]


def tree_cpu_s(proc: psutil.Process) -> float:
    """User + system CPU seconds of a process and its children so far."""
    total = 0.0
    for p in [proc, *proc.children(recursive=True)]:
        try:
            times = p.cpu_times()
            total += times.user + times.system
        except psutil.NoSuchProcess:
            pass
    return total


def tree_rss_mb(proc: psutil.Process) -> float:
    total = 0
    for p in [proc, *proc.children(recursive=True)]:
        try:
            total += p.memory_info().rss
        except psutil.NoSuchProcess:
            pass
    return total / 2**20


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--complaints", type=float, default=0.3,
                        help="share of conversations that file a complaint")
    parser.add_argument("--think", type=float, default=2.0,
                        help="mean seconds a person takes between turns (0: none)")
    parser.add_argument("--api-workers", default="2")
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="caunoi-bench-"))
    model = ensure_rasa_model()
    smtp = SmtpSink().start()
    api_port, rasa_port, actions_port = free_port(), free_port(), free_port()
    api_url = f"http://127.0.0.1:{api_port}"
    env = service_env(f"sqlite:///{root / 'caunoi.db'}", REPO / "models" / "multilingual-e5-small",
                      smtp.port, CAUNOI_LOAD_SEARCH="1", CAUNOI_API_WORKERS=args.api_workers,
                      CAUNOI_WORKER_INTERVAL="1")
    token = ensure_service_token(root / "service_token", env)
    endpoints = write_endpoints(root / "endpoints.yml",
                                actions_url=f"http://127.0.0.1:{actions_port}/webhook",
                                tracker_db=root / "tracker.db")
    services = {
        "api": start_api(port=api_port, env=env, log_path=root / "api.log"),
        "actions": start_actions(port=actions_port, api_url=api_url, token_file=token,
                                 outbox=root / "outbox.db", public_url=api_url,
                                 log_path=root / "actions.log"),
        "rasa": start_rasa(port=rasa_port, model=model, endpoints=endpoints,
                           log_path=root / "rasa.log"),
    }
    print("Khởi động các tiến trình…", flush=True)
    wait_healthy(list(services.values()), timeout=420)
    webhook = f"http://127.0.0.1:{rasa_port}/webhooks/rest/webhook"
    pool = questions()
    lock = threading.Lock()
    samples: dict[str, list[float]] = {"question": [], "other": []}
    counts = {"questions": 0, "answers": 0, "complaints": 0, "codes": 0, "errors": 0}
    peak = {name: 0.0 for name in services}

    def say(sender: str, text: str, kind: str) -> list[dict]:
        start = time.perf_counter()
        status, messages = http("POST", webhook, {"sender": sender, "message": text})
        elapsed = (time.perf_counter() - start) * 1000
        with lock:
            samples[kind].append(elapsed)
            if status != 200:
                counts["errors"] += 1
        return messages if status == 200 and isinstance(messages, list) else []

    # one warm-up turn per process path, not measured
    http("POST", webhook, {"sender": "warmup", "message": pool[0]})
    stop_at = time.monotonic() + args.seconds

    def client(seed: int) -> None:
        rng = random.Random(seed)

        def pause() -> None:
            if args.think > 0:
                time.sleep(rng.uniform(0.5, 1.5) * args.think)

        def typed(sender: str, text: str, kind: str) -> list[dict]:
            pause()
            return say(sender, text, kind)

        while time.monotonic() < stop_at:
            sender = f"bench-{uuid.uuid4().hex[:10]}"
            if rng.random() < args.complaints:
                code, _ = file_feedback(lambda t, s=sender: typed(s, t, "other"),
                                        rng.choice(COMPLAINTS))
                with lock:
                    counts["complaints"] += 1
                    counts["codes"] += code is not None
                continue
            messages = typed(sender, rng.choice(pool), "question")
            with lock:
                counts["questions"] += 1
                counts["answers"] += answer_payload(messages) is not None
            vote = buttons(messages)
            if vote:
                typed(sender, next(iter(vote.values())), "other")

    def watch() -> None:
        while time.monotonic() < stop_at:
            for name, service in services.items():
                peak[name] = max(peak[name], tree_rss_mb(psutil.Process(service.proc.pid)))
            time.sleep(1)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(args.clients)]
    threads.append(threading.Thread(target=watch))
    procs = {name: psutil.Process(service.proc.pid) for name, service in services.items()}
    cpu_before = {name: tree_cpu_s(p) for name, p in procs.items()}
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.monotonic() - started
    cpu = {name: tree_cpu_s(p) - cpu_before[name] for name, p in procs.items()}
    for service in services.values():
        service.stop()
    smtp.stop()

    q, o = samples["question"], samples["other"]
    rows = [{
        "clients": args.clients, "think s": args.think, "seconds": round(wall),
        "question turns": len(q),
        "question p50 ms": round(statistics.median(q)) if q else None,
        "question p95 ms": round(percentile(q, 0.95)) if q else None,
        "other turns": len(o),
        "other p50 ms": round(statistics.median(o)) if o else None,
        "other p95 ms": round(percentile(o, 0.95)) if o else None,
        "turns/s": round((len(q) + len(o)) / wall, 1),
        "answered": f"{counts['answers']}/{counts['questions']}",
        "complaints with code": f"{counts['codes']}/{counts['complaints']}",
        "errors": counts["errors"],
    }]
    publish(f"assistant-think{args.think:g}", rows)
    print("\nBộ nhớ lớn nhất và thời gian CPU của mỗi tiến trình (gồm tiến trình con), "
          "trong lúc đo:")
    turns = max(1, len(q) + len(o))
    memory = [{"process": n, "peak RSS MB": round(v), "CPU s": round(cpu[n], 1),
               "CPU ms per turn": round(1000 * cpu[n] / turns)} for n, v in peak.items()]
    publish(f"assistant-memory-think{args.think:g}", memory)
    return 0


if __name__ == "__main__":
    sys.exit(main())
