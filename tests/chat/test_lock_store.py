"""bot/addons/lock_store.py against a real Redis, from several processes at once.

The lock store runs inside Rasa (Python 3.10), so every check runs in the Rasa environment:
tests/chat/lock_worker.py for the concurrent ones, short scripts for the rest.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import textwrap
import time

import pytest

from scripts.stack import rasa_env
from tests.conftest import REPO

RASA_PYTHON = REPO / ".venv-rasa" / "bin" / "python"
WORKER = REPO / "tests" / "chat" / "lock_worker.py"

pytestmark = pytest.mark.skipif(not RASA_PYTHON.exists(), reason="needs .venv-rasa (make install)")


def run_script(code: str, *, cwd=REPO, **env: str) -> dict:
    out = subprocess.run([str(RASA_PYTHON), "-c", textwrap.dedent(code)], cwd=cwd,
                         env=rasa_env(**env), capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_workers(mode: str, host: str, port: int, *, processes: int, count: int,
                extra: tuple[str, ...] = ()) -> tuple[str, str, list[dict]]:
    prefix, conversation = f"caunoitest{secrets.token_hex(4)}", f"web-{secrets.token_hex(6)}"
    start_at = time.time() + 8  # after every process has imported Rasa
    procs = [
        subprocess.Popen([str(RASA_PYTHON), str(WORKER), mode, host, str(port), prefix,
                          conversation, str(count), str(start_at), *extra],
                         cwd=REPO, env=rasa_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
        for _ in range(processes)
    ]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=180)
        assert proc.returncode == 0, err[-3000:]
        results.append(json.loads(out.strip().splitlines()[-1]))
    return prefix, conversation, results


REDIS_STATE = """
    import json, redis
    red = redis.StrictRedis(host={host!r}, port={port}, db=1)
    key = {prefix!r} + ":lock:" + {conversation!r}
    print(json.dumps({{"exists": red.exists(key), "ttl": red.pttl(key),
                      "counter": int(red.get({conversation!r} + ":counter") or 0)}}))
    for k in red.scan_iter({prefix!r} + ":*"):
        red.delete(k)
    for k in red.scan_iter({conversation!r} + ":*"):
        red.delete(k)
"""


def redis_state(host: str, port: int, prefix: str, conversation: str) -> dict:
    """What is left in Redis for this conversation (then cleaned up)."""
    return run_script(REDIS_STATE.format(host=host, port=port, prefix=prefix,
                                         conversation=conversation))


def test_tickets_taken_at_once_by_several_processes_are_all_different(redis_server):
    host, port = redis_server
    prefix, conversation, results = run_workers("tickets", host, port, processes=4, count=25)
    numbers = [n for r in results for n in r["tickets"]]
    assert sorted(numbers) == list(range(100))  # no ticket handed out twice, none skipped
    state = redis_state(host, port, prefix, conversation)
    assert state["exists"] == 1
    assert 0 < state["ttl"] <= 65_000  # the key dies with its last ticket (60 s) + 5 s


def test_only_one_process_holds_the_lock_at_a_time(redis_server):
    host, port = redis_server
    prefix, conversation, results = run_workers("mutex", host, port, processes=4, count=15)
    assert [r["overlaps"] for r in results] == [0, 0, 0, 0]
    state = redis_state(host, port, prefix, conversation)
    assert state["counter"] == 60  # every slow GET ... SET increment survived
    assert state["exists"] == 0  # the last one out deleted the lock


def test_giving_a_ticket_back_keeps_the_next_ones(redis_server):
    host, port = redis_server
    state = run_script(f"""
        import json, time
        from addons.lock_store import AtomicRedisLockStore
        store = AtomicRedisLockStore(host={host!r}, port={port}, db=1,
                                     key_prefix="caunoitest{secrets.token_hex(4)}")
        conversation = "web-giveback"
        first = store.issue_ticket(conversation, 30)
        second = store.issue_ticket(conversation, 30)
        store.cleanup(conversation, first)   # the stock store could delete 'second' here
        lock = store.get_lock(conversation)
        waiting = [t.number for t in lock.tickets] if lock else None
        serving = lock.now_serving if lock else None
        store.cleanup(conversation, second)
        gone = store.get_lock(conversation) is None
        short = store.issue_ticket(conversation, 0.2)  # a holder that died: ticket expires
        time.sleep(0.4)
        after = store.issue_ticket(conversation, 30)
        free = not store.get_lock(conversation).is_locked(after)
        store.cleanup(conversation, after)
        print(json.dumps({{"tickets": [first, second], "waiting": waiting, "serving": serving,
                          "gone": gone, "short": short, "free": free,
                          "left": store.get_lock(conversation) is None}}))
    """)
    assert state == {"tickets": [0, 1], "waiting": [1], "serving": 1, "gone": True,
                     "short": 0, "free": True, "left": True}


def test_rasa_builds_it_from_the_production_endpoints(redis_server):
    """Loaded the way `rasa run` loads it: from bot/, without PYTHONPATH, env vars expanded."""
    host, port = redis_server
    state = run_script("""
        import json, sys, os
        sys.path.insert(1, os.getcwd())  # what rasa's own main() does
        from rasa.core.lock_store import LockStore
        from rasa.core.utils import number_of_sanic_workers
        from rasa.core.utils import read_endpoints_from_path
        endpoints = read_endpoints_from_path("endpoints.production.yml")
        store = LockStore.create(endpoints.lock_store)
        store.red.ping()
        print(json.dumps({"class": type(store).__name__, "prefix": store.key_prefix,
                          "poll": store.poll_interval,
                          "tracker": endpoints.tracker_store.kwargs["db"],
                          "workers": number_of_sanic_workers(endpoints.lock_store)}))
    """, cwd=REPO / "bot", PYTHONPATH="", SANIC_WORKERS="2", REDIS_HOST=host,
        REDIS_PORT=str(port), REDIS_PASSWORD="", RASA_ACTIONS_URL="http://actions:5055/webhook",
        RASA_DB_HOST="db", RASA_DB_PORT="5432", RASA_DB_USER="rasa", RASA_DB_PASSWORD="",
        RASA_DB_NAME="rasa_tracker", RASA_DB_LOGIN_DB="postgres")
    assert state == {"class": "AtomicRedisLockStore", "prefix": "caunoi:lock:", "poll": 0.1,
                     "tracker": "rasa_tracker", "workers": 2}
