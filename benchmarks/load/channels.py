"""Load on the Zalo and Messenger gateway: simulated citizens writing to the whole stack.

Starts what `make run` starts for the gateway (``python -m feedback_api serve``: two API
processes behind one port and the worker process, search loaded) against fake Zalo and Meta
servers (tests/fakes/platforms.py) and, unless ``--rasa-url`` names a running Rasa, the
stand-in Rasa of tests/chat/fake_rasa.py, which answers "Bạn vừa nói: <text>" at once. Half the
citizens write on Zalo, half on Messenger, each in its own thread: a signed message to the
webhook, wait for its reply at the fake, think 1-3 s (seeded), again, for ``--seconds``.

Per message: the acknowledgement (the webhook POST's round trip) and the reply latency (from
just before the POST to the moment the fake accepted the reply, on the same clock: the POST is
included). Then, after up to 30 s for stragglers: messages lost (never answered), duplicated
(answered more than once), answered out of order, and the memory of each process of the stack.
Exits 1 when a message was lost or duplicated; latency is only compared with the targets.

    .venv/bin/python -m benchmarks.load.channels [--citizens 50] [--seconds 60] [--quick]
        [--postgres | --database-url URL] [--rasa-url http://127.0.0.1:5005] [--seed 7]

With the stand-in Rasa a reply is matched by its text, which echoes the citizen's numbered
message. A real Rasa does not echo: a reply is then the first message that reaches the citizen
after the POST, out of order is not measured, and duplicates are the messages delivered beyond
the parts the gateway queued for that citizen (read from the database).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import re
import shlex
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import psutil
from sqlalchemy import create_engine, make_url, text

from benchmarks.common import REPO, SHARED, save
from tests.channels.conftest import Platforms, fake_platforms
from tests.chat.fake_rasa import FakeRasa
from tests.fakes.platforms import (
    FakePlatform,
    messenger_batch,
    messenger_headers,
    messenger_text,
    zalo_event,
    zalo_headers,
)
from tests.feedback_api.conftest import PG_ADMIN_URL, free_port, fresh_pg_database
from tests.feedback_api.server import Api, service_env

MODEL_DIR = REPO / "models" / "multilingual-e5-small"
TARGET_ACK_MS = 50.0
TARGET_REPLY_MS = 1500.0
THINK_S = (1.0, 3.0)  # between a reply and the citizen's next message (--think to change)
REPLY_WAIT_S = 30.0  # a citizen stops waiting for one reply (a later one still counts)
STRAGGLERS_S = 30.0  # after the load: how long unanswered messages may still be answered
SETTLE_S = 2.0  # after the last reply: time for a duplicate to show up
WARM_UP_CITIZENS, WARM_UP_ROUNDS = 8, 3
DELIVERIES = 3  # a platform delivers an unacknowledged event again, this many times in all
ECHO = "Bạn vừa nói: {}"  # the stand-in Rasa's answer
QUESTION = "Tin số {n} của người dân {i}: đăng ký thường trú cho con mới sinh cần giấy tờ gì?"


@dataclass(frozen=True)
class Citizen:
    index: int
    platform: str  # "zalo" or "messenger"
    user_id: str

    @property
    def key(self) -> tuple[str, str]:
        return self.platform, self.user_id


@dataclass
class Message:
    """One message a citizen sent, and what became of it."""

    citizen: Citizen
    number: int
    text: str
    started: float  # time.time() just before the first POST
    baseline: int  # messages the citizen had received before it (real Rasa: the reply is next)
    acks_ms: list[float] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)  # 0: no HTTP answer

    @property
    def acknowledged(self) -> bool:
        return 200 in self.statuses


# --- the platforms' side ----------------------------------------------------------------------

class Webhooks:
    """Signed deliveries to the gateway, as Zalo and Meta send them (a new connection each)."""

    def __init__(self, port: int, platforms: Platforms) -> None:
        self.port = port
        self.platforms = platforms

    def delivery(self, citizen: Citizen, message: str) -> tuple[str, bytes, dict[str, str]]:
        p = self.platforms
        if citizen.platform == "zalo":
            raw = zalo_event(app_id=p.zalo_app_id, user_id=citizen.user_id, text=message)
            return "/webhooks/zalo", raw, zalo_headers(raw, app_id=p.zalo_app_id,
                                                       oa_secret=p.zalo_oa_secret)
        raw = messenger_batch([[messenger_text(citizen.user_id, message)]])
        return "/webhooks/messenger", raw, messenger_headers(raw, p.messenger_app_secret)

    def post(self, path: str, raw: bytes, headers: dict[str, str]) -> tuple[int, float]:
        """(HTTP status or 0, round trip in ms)."""
        start = time.perf_counter()
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.request("POST", path, raw, headers)
            response = conn.getresponse()
            response.read()
            status = response.status
        except (OSError, http.client.HTTPException):
            status = 0
        finally:
            conn.close()
        return status, (time.perf_counter() - start) * 1000

    def send(self, message: Message) -> None:
        """Deliver until acknowledged, as a platform retries (same body, same message id)."""
        path, raw, headers = self.delivery(message.citizen, message.text)
        for attempt in range(DELIVERIES):
            if attempt:
                time.sleep(1.0)
            status, ms = self.post(path, raw, headers)
            message.statuses.append(status)
            message.acks_ms.append(ms)
            if status == 200:
                return


class Inbox:
    """What the fakes accepted, by citizen, as it arrives: one follower thread per fake, so the
    citizens' threads do not each scan the fakes' records."""

    def __init__(self, fakes: dict[str, FakePlatform]) -> None:
        self.fakes = fakes
        self.replies: dict[tuple[str, str], list[tuple[str | None, float]]] = defaultdict(list)
        self.changed = threading.Condition()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> Inbox:
        for platform, fake in self.fakes.items():
            thread = threading.Thread(target=self._follow, args=(platform, fake), daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join()

    def _follow(self, platform: str, fake: FakePlatform) -> None:
        seen = 0
        while not self._stop.is_set():
            try:
                sent = fake.wait_sent(seen + 1, timeout=0.2)
            except AssertionError:  # nothing new yet
                continue
            with self.changed:
                for entry in sent[seen:]:
                    self.replies[(platform, entry[fake.recipient_key])].append(
                        (fake.text_of(entry["message"]), entry["at"]))
                self.changed.notify_all()
            seen = len(sent)

    def of(self, citizen: Citizen) -> list[tuple[str | None, float]]:
        with self.changed:
            return list(self.replies.get(citizen.key, []))

    def wait(self, predicate, timeout: float) -> bool:
        with self.changed:
            return self.changed.wait_for(predicate, timeout)


# --- matching replies to messages -------------------------------------------------------------

class Echoes:
    """The stand-in Rasa: a reply is the echo of the message's text (it holds its number)."""

    echoes = True

    def question(self, rng: random.Random, citizen: Citizen, number: int) -> str:
        return QUESTION.format(n=number, i=citizen.index)

    def replies_to(self, message: Message, received: list) -> list[float]:
        """When each reply to ``message`` arrived."""
        expected = ECHO.format(message.text)
        return [at for said, at in received if said == expected]


class FirstAfter:
    """A real Rasa: the reply is the first message the citizen receives after sending."""

    echoes = False

    def __init__(self) -> None:
        texts = json.loads((SHARED / "questions-dev.json").read_text(encoding="utf-8"))
        self.pool = [q["text"] for q in texts]

    def question(self, rng: random.Random, citizen: Citizen, number: int) -> str:
        return rng.choice(self.pool)

    def replies_to(self, message: Message, received: list) -> list[float]:
        return [received[message.baseline][1]] if len(received) > message.baseline else []


# --- the load ---------------------------------------------------------------------------------

def citizens(count: int, seed: int) -> list[Citizen]:
    """Half on Zalo (18-digit user ids), half on Messenger (16-digit page-scoped ids)."""
    rng = random.Random(seed)
    out = []
    for i in range(count):
        if i % 2 == 0:
            out.append(Citizen(i, "zalo", str(rng.randrange(10**17, 10**18))))
        else:
            out.append(Citizen(i, "messenger", str(rng.randrange(10**15, 10**16))))
    return out


def converse(citizen: Citizen, webhooks: Webhooks, inbox: Inbox, matcher, stop_at: float,
             seed: int, out: list[Message], lock: threading.Lock,
             think: tuple[float, float] = THINK_S) -> None:
    """One citizen: write, wait for the reply, think, until ``stop_at`` (monotonic)."""
    rng = random.Random(seed * 1000 + citizen.index)
    time.sleep(rng.uniform(0, think[1]))  # not everybody starts in the same millisecond
    number = 0
    while time.monotonic() < stop_at:  # no new message after the load's end
        number += 1
        message = Message(citizen, number, matcher.question(rng, citizen, number),
                          started=time.time(), baseline=len(inbox.of(citizen)))
        with lock:
            out.append(message)
        webhooks.send(message)
        if message.acknowledged:
            inbox.wait(lambda m=message: matcher.replies_to(m, inbox.replies.get(citizen.key, [])),
                       REPLY_WAIT_S)
        time.sleep(min(rng.uniform(*think), max(0.0, stop_at - time.monotonic())))


def warm_up(api: Api, webhooks: Webhooks, inbox: Inbox, matcher, timeout: float = 240) -> None:
    """Wait for the worker's heartbeat (/readyz), then a few rounds of messages from a few
    citizens at once on both platforms (so that every API process has served each), so the
    processes' first-use costs are not measured."""
    deadline = time.monotonic() + timeout
    while api.request("GET", "/readyz")[0] != 200:
        if time.monotonic() > deadline:
            raise RuntimeError(f"the stack is not ready: {api.request('GET', '/readyz')[1]}")
        time.sleep(1)
    people = [Citizen(-1 - n, ("zalo", "messenger")[n % 2], str(10**14 + n))  # not a load id
              for n in range(WARM_UP_CITIZENS)]
    rng = random.Random(0)
    for number in range(1, WARM_UP_ROUNDS + 1):
        messages = [Message(c, number, matcher.question(rng, c, number), started=time.time(),
                            baseline=len(inbox.of(c))) for c in people]
        threads = [threading.Thread(target=webhooks.send, args=(m,)) for m in messages]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

        def answered(messages=messages) -> bool:
            return all(matcher.replies_to(m, inbox.replies.get(m.citizen.key, []))
                       for m in messages)

        if not inbox.wait(answered, max(1.0, deadline - time.monotonic())):
            raise RuntimeError(f"the warm-up messages were not answered: {api.output()[-3000:]}")


# --- what the database and the processes say -------------------------------------------------

def database_counts(db_url: str, mine: set[tuple[str, str]]) -> dict:
    """Our citizens' events by status, turns queued by status, and parts queued per citizen."""
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            events = conn.execute(text(
                "SELECT platform, user_id, status FROM channel_event")).all()
            turns = conn.execute(text(
                "SELECT payload, status, last_error FROM outbox_message "
                "WHERE kind = 'channel_message'")).all()
    finally:
        engine.dispose()
    parts: Counter = Counter()
    turn_status: Counter = Counter()
    errors: Counter = Counter()
    for payload, status, error in turns:
        payload = json.loads(payload) if isinstance(payload, str) else payload
        key = (payload["channel"], payload["sender_id"])
        if key in mine:
            parts[key] += len(payload["parts"])
            turn_status[status] += 1
            if error:
                errors[error[:120]] += 1
    return {"events": Counter(s for p, u, s in events if (p, u) in mine),
            "turns": turn_status, "parts": parts, "turn_errors": errors}


def label(proc: psutil.Process, root: int) -> str:
    if proc.pid == root:
        return "serve (parent)"
    if proc.pid == os.getpid():
        return "benchmark (citizens, fakes)"
    cmdline = " ".join(proc.cmdline())
    if "run_worker_process" in cmdline:
        return "worker"
    if "resource_tracker" in cmdline:
        return "resource tracker"
    if "spawn_main" in cmdline:
        return "API"
    return Path(proc.name()).name


def processes(root: int) -> list[psutil.Process]:
    """The stack's processes (``serve`` and its children), then this one."""
    parent = psutil.Process(root)
    return [parent, *parent.children(recursive=True), psutil.Process()]


def cpu_seconds(proc: psutil.Process) -> float:
    times = proc.cpu_times()
    return times.user + times.system


def memory(root: int, cpu_before: dict[int, float]) -> list[dict]:
    """Each process's RSS now, and its CPU time since ``cpu_before`` was taken."""
    rows = []
    for proc in processes(root):
        try:
            with proc.oneshot():
                rows.append({"process": label(proc, root), "pid": proc.pid,
                             "rss_mb": round(proc.memory_info().rss / 2**20),
                             "cpu_s": round(cpu_seconds(proc) - cpu_before.get(proc.pid, 0), 1)})
        except psutil.NoSuchProcess:
            continue
    names = Counter(r["process"] for r in rows)
    seen: Counter = Counter()
    for row in rows:  # "API 1", "API 2"
        if names[row["process"]] > 1:
            seen[row["process"]] += 1
            row["process"] = f"{row['process']} {seen[row['process']]}"
    return rows


class Sampler:
    """Every second while the load runs: each process's RSS (its peak is kept) and how busy
    the machine's cores are (the database server and this process included)."""

    def __init__(self, root: int) -> None:
        self.root = root
        self.peaks: dict[int, float] = {}
        self.busy: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> Sampler:
        psutil.cpu_percent()  # the first call only starts the count
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(1.0):
            self.busy.append(psutil.cpu_percent())
            for proc in processes(self.root):
                try:
                    rss = proc.memory_info().rss / 2**20
                except psutil.NoSuchProcess:
                    continue
                self.peaks[proc.pid] = max(self.peaks.get(proc.pid, 0.0), rss)


def machine() -> str:
    model = "?"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    return f"{model}, {os.cpu_count()} cores, {psutil.virtual_memory().total / 2**30:.0f} GiB"


def command_line() -> str:
    """This run's command, a database password hidden."""
    args = [shlex.quote(re.sub(r"(://[^:/@]+:)[^@]*@", r"\1***@", arg)) for arg in sys.argv[1:]]
    return " ".join([".venv/bin/python -m benchmarks.load.channels", *args])


def log_summary(log: str, most: int = 12) -> list[str]:
    """The API log's distinct lines (timestamps dropped), most frequent first."""
    lines = Counter()
    for line in log.splitlines():
        parts = line.split(" ", 2)
        if len(parts) == 3 and parts[0][:2] == "20":  # "2026-12-08 10:00:00,123 name msg"
            line = parts[2]
        if line.strip():
            lines[line.strip()[:200]] += 1
    return [f"{n} × {line}" for line, n in lines.most_common(most)]


# --- the report -------------------------------------------------------------------------------

def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def ms(value: float | None) -> str:
    return "–" if value is None else f"{value:.0f}" if value >= 10 else f"{value:.1f}"


def met(value: float | None, target: float) -> str:
    return "met" if value is not None and value <= target else "NOT met"


def tally(messages: list[Message], inbox: Inbox, matcher, counts: dict) -> dict:
    """Answered, lost, duplicated and out of order, from every reply the fakes accepted."""
    by_citizen: dict[Citizen, list[Message]] = defaultdict(list)
    for m in messages:
        by_citizen[m.citizen].append(m)
    reply_ms, lost, duplicated, out_of_order, stray = [], 0, 0, 0, 0
    for citizen, sent in by_citizen.items():
        received = inbox.of(citizen)
        for m in sent:
            arrivals = matcher.replies_to(m, received)
            if not arrivals:
                lost += 1
                continue
            reply_ms.append((min(arrivals) - m.started) * 1000)
            duplicated += int(matcher.echoes and len(arrivals) > 1)
        if matcher.echoes:
            numbers = {ECHO.format(m.text): m.number for m in sent}
            order = [numbers.get(said) for said, _ in received]
            stray += sum(n is None for n in order)
            highest = 0
            for n in filter(None, order):
                out_of_order += n < highest
                highest = max(highest, n)
        else:  # no echo: what was delivered beyond what the gateway queued is duplicated
            duplicated += max(0, len(received) - counts["parts"][citizen.key])
    return {"reply_ms": reply_ms, "lost": lost, "duplicated": duplicated,
            "out_of_order": out_of_order if matcher.echoes else None, "stray": stray}


def report(args, backend: str, wall: float, messages: list[Message], result: dict,
           counts: dict, procs: list[dict], sampler: Sampler, load_before: float) -> dict:
    acks = [a for m in messages for a in m.acks_ms]
    failed_posts = sum(s != 200 for m in messages for s in m.statuses)
    reply = result["reply_ms"]
    by_platform = Counter(m.citizen.platform for m in messages)
    ack_p95, reply_p95 = percentile(acks, 0.95), percentile(reply, 0.95)
    summary = {
        "citizens": f"{args.citizens} ({(args.citizens + 1) // 2} Zalo, "
                    f"{args.citizens // 2} Messenger)",
        "database": backend,
        "rasa": args.rasa_url or "stand-in (echo, instant)",
        "think between messages s": f"{args.think[0]:g}–{args.think[1]:g}",
        "seconds": f"{args.seconds:g} of load (+{wall - args.seconds:.0f} for the last replies)",
        "messages": f"{len(messages)} (Zalo {by_platform['zalo']}, "
                    f"Messenger {by_platform['messenger']}); {len(messages) / wall:.1f}/s",
        "ack p50 / p95 / max ms": " / ".join(
            ms(v) for v in (percentile(acks, 0.5), ack_p95, max(acks, default=None))),
        "webhook POSTs not acknowledged (non-200 or no answer)": failed_posts,
        "reply p50 / p95 / max ms (POST → reply at the fake, POST included)": " / ".join(
            ms(v) for v in (percentile(reply, 0.5), reply_p95, max(reply, default=None))),
        "answered": len(reply),
        "lost": result["lost"],
        "duplicated": result["duplicated"],
        "out of order": "not measured (no echo)" if result["out_of_order"] is None
        else result["out_of_order"],
        "other messages to our citizens": result["stray"],
        "events stored, by status": dict(counts["events"]) or "none",
        "turns queued, by status": dict(counts["turns"]) or "none",
        "parts queued / delivered": f"{sum(counts['parts'].values())} / "
                                    f"{sum(len(v) for k, v in counts['delivered'].items())}",
        "RSS MB at the end (peak), CPU s during the load and stragglers": "; ".join(
            f"{p['process']} {p['rss_mb']} ({sampler.peaks.get(p['pid'], p['rss_mb']):.0f}), "
            f"{p['cpu_s']}" for p in procs),
        "RSS MB total of the stack at the end": sum(
            p["rss_mb"] for p in procs if p["pid"] != os.getpid()),
        "CPU busy during the load, mean / p95 % of all cores": " / ".join(
            ms(v) for v in (sum(sampler.busy) / max(1, len(sampler.busy)),
                            percentile(sampler.busy, 0.95))),
        "targets": f"ack p95 ≤ {TARGET_ACK_MS:.0f} ms: {met(ack_p95, TARGET_ACK_MS)}; "
                   f"reply p95 ≤ {TARGET_REPLY_MS / 1000:g} s: {met(reply_p95, TARGET_REPLY_MS)}",
        "machine": machine(),
        "load average (1 min) before the stack started / after the load":
            f"{load_before:.1f} / {os.getloadavg()[0]:.1f}",
        "date": datetime.now().astimezone().isoformat(timespec="minutes"),
        "command": command_line(),
    }
    if counts["turn_errors"]:
        summary["outbox errors"] = dict(counts["turn_errors"])
    return summary


def markdown(summary: dict) -> str:
    rows = [f"| {key} | {str(value).replace('|', '/')} |" for key, value in summary.items()]
    return "\n".join(["| measure | value |", "|---|---|", *rows])


# --- main -------------------------------------------------------------------------------------

def run(args, stack: ExitStack) -> dict:
    load_before = os.getloadavg()[0]  # before the stack starts: other work on the machine
    if args.database_url:
        db_url = args.database_url
    elif args.postgres:
        name = stack.enter_context(fresh_pg_database("caunoi_bench"))
        db_url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    else:
        db_url = f"sqlite:///{tempfile.mkdtemp(prefix='caunoi-bench-')}/caunoi.db"
    backend = make_url(db_url).get_backend_name()
    platforms = fake_platforms()
    stack.callback(platforms.stop)
    rasa_url = args.rasa_url
    if not rasa_url:
        fake = FakeRasa().start()
        stack.callback(fake.stop)
        rasa_url = fake.url
    matcher = FirstAfter() if args.rasa_url else Echoes()
    # Production settings (poll intervals, retries, the webhooks' rate limit) but the fakes.
    env = service_env(db_url, MODEL_DIR, free_port(), CAUNOI_RUN_WORKER="1",
                      CAUNOI_API_WORKERS=str(args.api_workers), CAUNOI_LOAD_SEARCH="1",
                      CAUNOI_RASA_URL=rasa_url, **platforms.env())
    env.pop("CAUNOI_WORKER_INTERVAL")
    print(f"Khởi động: serve ({args.api_workers} tiến trình API + worker), {backend}…",
          flush=True)
    api = Api(env)
    stack.callback(api.stop)
    webhooks = Webhooks(api.port, platforms)
    inbox = Inbox({"zalo": platforms.zalo, "messenger": platforms.meta}).start()
    stack.callback(inbox.stop)
    warm_up(api, webhooks, inbox, matcher)
    log_start = len(api.output())

    people = citizens(args.citizens, args.seed)
    messages: list[Message] = []
    lock = threading.Lock()
    print(f"Đo: {args.citizens} người dân trong {args.seconds:g} s…", flush=True)
    started = time.monotonic()
    stop_at = started + args.seconds
    threads = [threading.Thread(target=converse, args=(c, webhooks, inbox, matcher, stop_at,
                                                       args.seed, messages, lock, args.think))
               for c in people]
    cpu_before = {p.pid: cpu_seconds(p) for p in processes(api.proc.pid)}
    sampler = Sampler(api.proc.pid).start()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.monotonic() - started
    sampler.stop()

    def all_answered() -> bool:
        return all(matcher.replies_to(m, inbox.replies.get(m.citizen.key, []))
                   for m in messages)

    inbox.wait(all_answered, STRAGGLERS_S)
    time.sleep(SETTLE_S)
    procs = memory(api.proc.pid, cpu_before)
    mine = {c.key for c in people}
    counts = database_counts(db_url, mine)
    counts["delivered"] = {c.key: inbox.of(c) for c in people}
    result = tally(messages, inbox, matcher, counts)
    summary = report(args, backend, wall, messages, result, counts, procs, sampler,
                     load_before)
    log = api.output()[log_start:]
    summary["API log lines during the run"] = len(log.splitlines())
    print("\nNhật ký API trong lúc đo (dòng khác nhau, nhiều nhất trước):")
    print("\n".join(log_summary(log)) or "(trống)")
    print(f"(toàn bộ: {api.log.name})")
    return summary


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--citizens", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--quick", action="store_true",
                        help="a smoke run: 10 citizens for 10 s (nothing saved)")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--database-url", help="an empty database (default: a new SQLite file)")
    where.add_argument("--postgres", action="store_true",
                       help=f"a new database on {make_url(PG_ADMIN_URL).host}:5432, "
                            "dropped afterwards")
    parser.add_argument("--rasa-url", help="a running Rasa instead of the stand-in; the "
                                           "citizens then ask the ALQAC dev questions")
    parser.add_argument("--api-workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--think", default="1,3", help="seconds a citizen waits after a reply "
                                                     "before writing again: MIN,MAX")
    args = parser.parse_args()
    low, _, high = args.think.partition(",")
    args.think = (float(low), float(high or low))
    if args.quick:
        args.citizens, args.seconds = 10, 10.0
    with ExitStack() as stack:
        summary = run(args, stack)
    print()
    print(markdown(summary))
    if not args.quick:
        default = (args.citizens == 50 and args.seconds == 60 and not args.rasa_url
                   and args.think == THINK_S)
        name = f"channels-{summary['database']}" + ("" if default else
                                                    f"-{args.citizens}c-{args.seconds:g}s"
                                                    f"-think{args.think[0]:g}-{args.think[1]:g}"
                                                    + ("-rasa" if args.rasa_url else ""))
        save(name, summary)
    failed = summary["lost"] or summary["duplicated"]
    if failed:
        print(f"\nTHẤT BẠI: {summary['lost']} tin bị mất, {summary['duplicated']} tin bị trả "
              "lời lặp.", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
