"""A Redis lock store whose every read-modify-write is one Redis transaction.

Rasa serialises the messages of one conversation with a ticket lock (``rasa.core.lock``):
a message takes a ticket, waits until its ticket is the first one still valid, is processed,
and gives the ticket back. Rasa 3.6's ``RedisLockStore`` keeps that lock as one JSON value and
changes it with a plain GET, then a SET. Two Rasa processes (replicas, or ``SANIC_WORKERS>1``)
that take a ticket at the same moment can read the same lock, both append ticket N+1, and both
believe they are being served: their tracker saves overlap and a user message is lost. Giving a
ticket back has the same gap (finish, then "anyone waiting?", then DELETE), so a ticket taken
in between is deleted and its message fails with ``LockError``. See REFERENCE.md 5.3.

Here each change runs under WATCH/MULTI/EXEC: the lock is read with the key watched, changed
in Python by the same ``TicketLock`` code Rasa uses, and written back only if nobody wrote the
key in between; otherwise the transaction is retried. Returning a ticket and deleting an empty
lock are one transaction. The key also gets a TTL just past its last ticket's expiry, so a
process that dies holding a ticket leaves nothing behind for long.

``endpoints.production.yml``::

    lock_store:
      type: addons.lock_store.AtomicRedisLockStore
      url: ${REDIS_HOST}          # a host name, as for Rasa's own "redis" type
      port: ${REDIS_PORT}
      db: 1
      key_prefix: caunoi
      poll_interval: 0.1          # optional, seconds between checks while waiting (Rasa: 1)

Rasa imports ``addons.lock_store`` from the current directory: start ``rasa run`` in ``bot/``.
"""

from __future__ import annotations

import json
import logging
import math
import random
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import redis
from rasa.core.lock import TicketLock
from rasa.core.lock_store import LOCK_LIFETIME, LockError, RedisLockStore
from rasa.utils.endpoints import EndpointConfig

log = logging.getLogger(__name__)
T = TypeVar("T")

MAX_ATTEMPTS = 200  # transaction retries before giving up with a LockError
TTL_MARGIN = 5.0  # seconds the key outlives its last ticket
DEFAULT_POLL_INTERVAL = 0.1  # seconds; Rasa's own default of 1 s adds up to 1 s per queued message


class AtomicRedisLockStore(RedisLockStore):
    """``RedisLockStore`` with atomic ticket changes (WATCH/MULTI/EXEC)."""

    def __init__(self, endpoint_config: EndpointConfig | None = None, **kwargs: Any) -> None:
        # Rasa builds custom lock stores as ``cls(endpoint_config=...)``; tests pass kwargs.
        options = dict(endpoint_config.kwargs) if endpoint_config is not None else {}
        options.update(kwargs)
        host = options.pop("host", None) or (endpoint_config.url if endpoint_config else None)
        self.poll_interval = float(options.pop("poll_interval", DEFAULT_POLL_INTERVAL))
        super().__init__(host=host or "localhost", **options)

    # -- the one primitive -----------------------------------------------------------------

    def _transaction(self, conversation_id: str, change: Callable[[TicketLock], T]) -> T:
        """Apply ``change`` to the stored lock atomically and return what it returned."""
        key = self.key_prefix + conversation_id
        with self.red.pipeline(transaction=True) as pipe:
            for attempt in range(MAX_ATTEMPTS):
                try:
                    pipe.watch(key)
                    raw = pipe.get(key)
                    if raw:
                        lock = TicketLock.from_dict(json.loads(raw))
                    else:
                        lock = self.create_lock(conversation_id)
                    result = change(lock)
                    lock.remove_expired_tickets()
                    pipe.multi()
                    if lock.tickets:
                        ttl = max(t.expires for t in lock.tickets) - time.time() + TTL_MARGIN
                        pipe.set(key, lock.dumps(), px=max(1, math.ceil(ttl * 1000)))
                    elif raw:
                        pipe.delete(key)
                    pipe.execute()
                    return result
                except redis.WatchError:
                    # Another process changed the lock between our read and our write.
                    pipe.reset()
                    time.sleep(random.uniform(0, 0.002) * min(attempt, 10))
        raise LockError(
            f"Could not change the lock of conversation '{conversation_id}': "
            f"{MAX_ATTEMPTS} concurrent attempts in a row."
        )

    # -- what Rasa calls --------------------------------------------------------------------

    def issue_ticket(self, conversation_id: str, lock_lifetime: float = LOCK_LIFETIME) -> int:
        try:
            return self._transaction(conversation_id, lambda lock: lock.issue_ticket(lock_lifetime))
        except LockError:
            raise
        except Exception as exc:  # noqa: BLE001 - Rasa expects a LockError for any failure
            raise LockError(f"Error while acquiring lock. Error:\n{exc}") from exc

    def update_lock(self, conversation_id: str) -> None:
        self._transaction(conversation_id, lambda lock: lock.remove_expired_tickets())

    def finish_serving(self, conversation_id: str, ticket_number: int) -> None:
        self._transaction(conversation_id, lambda lock: lock.remove_ticket_for(ticket_number))

    def cleanup(self, conversation_id: str, ticket_number: int) -> None:
        """Give the ticket back; the lock disappears in the same step when nobody waits."""
        self.finish_serving(conversation_id, ticket_number)

    # get_lock, save_lock and delete_lock stay Rasa's plain GET/SET/DELETE: outside the
    # methods above, Rasa 3.6 only reads the lock (get_lock while waiting).

    @asynccontextmanager
    async def lock(
        self,
        conversation_id: str,
        lock_lifetime: float = LOCK_LIFETIME,
        wait_time_in_seconds: float | None = None,
    ) -> AsyncIterator[TicketLock]:
        """As Rasa's, but polling every ``poll_interval`` seconds while waiting."""
        wait = self.poll_interval if wait_time_in_seconds in (None, 1) else wait_time_in_seconds
        ticket = self.issue_ticket(conversation_id, lock_lifetime)
        try:
            yield await self._acquire_lock(conversation_id, ticket, wait)
        finally:
            self.cleanup(conversation_id, ticket)
