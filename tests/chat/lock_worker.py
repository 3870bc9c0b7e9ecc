"""One process hammering a Rasa lock store in Redis; run by test_lock_store.py with the Rasa
environment (``.venv-rasa/bin/python``, ``PYTHONPATH=bot``). Prints one JSON line.

    lock_worker.py tickets HOST PORT PREFIX CONVERSATION COUNT START_AT
        take COUNT tickets without giving any back: their numbers
    lock_worker.py mutex HOST PORT PREFIX CONVERSATION COUNT START_AT [--stock]
        COUNT times: hold the lock and increment a counter with a slow GET ... SET; the
        counter ends right only if nobody else held the lock at the same time
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import sys
import time


def store(host: str, port: str, prefix: str, stock: bool):
    if stock:
        from rasa.core.lock_store import RedisLockStore

        return RedisLockStore(host=host, port=int(port), db=1, key_prefix=prefix)
    from addons.lock_store import AtomicRedisLockStore

    return AtomicRedisLockStore(host=host, port=port, db=1, key_prefix=prefix,
                                poll_interval=0.01)


async def mutex(lock_store, conversation: str, count: int) -> dict:
    red, counter = lock_store.red, f"{conversation}:counter"
    overlaps = 0
    for _ in range(count):
        async with lock_store.lock(conversation, lock_lifetime=30, wait_time_in_seconds=0.01):
            if red.incr(f"{conversation}:inside") != 1:
                overlaps += 1
            value = int(red.get(counter) or 0)
            await asyncio.sleep(random.uniform(0, 0.004))
            red.set(counter, value + 1)
            red.decr(f"{conversation}:inside")
    return {"overlaps": overlaps}


def main(argv: list[str]) -> None:
    mode, host, port, prefix, conversation, count, start_at = argv[:7]
    lock_store = store(host, port, prefix, "--stock" in argv)
    time.sleep(max(0.0, float(start_at) - time.time()))
    if mode == "tickets":
        numbers = [lock_store.issue_ticket(conversation, 60) for _ in range(int(count))]
        print(json.dumps({"pid": os.getpid(), "tickets": numbers}))
    else:
        print(json.dumps(asyncio.run(mutex(lock_store, conversation, int(count)))))


if __name__ == "__main__":
    main(sys.argv[1:])
