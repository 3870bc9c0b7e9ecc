"""The gateway as the API process runs it: the platform clients, the dispatcher threads and an
outbox worker for the assistant's turns, woken the moment there is work.

Built by runtime.start_services when a platform is configured. Officials' replies and status
notices go from the background worker (feedback_api/worker.py, through ``wiring.senders_for``);
the assistant's turns go from here, with short retries, since a citizen is waiting. A turn an
API process leased and did not finish is taken over by another when its lease ends.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable

from feedback_api.channels.dispatcher import Dispatcher, Platform
from feedback_api.channels.wiring import RENDERERS, clients, describe, senders_for
from feedback_api.chat.rasa import RasaClient
from feedback_api.db import Database
from feedback_api.notify.senders import SendError
from feedback_api.notify.worker import Worker
from feedback_api.settings import Settings

log = logging.getLogger(__name__)
REFRESH_CHECK_SECONDS = 60.0
REFRESH_PAUSE_SECONDS = 900.0  # after a failed scheduled refresh
MAX_RETRY_SECONDS = 300.0


def retry_backoff(base: float) -> Callable[[int], float]:
    """Seconds before retry ``attempt + 1``: ``base`` doubling up to 5 minutes, with jitter."""

    def backoff(attempt: int) -> float:
        ceiling = min(MAX_RETRY_SECONDS, base * 2 ** max(attempt - 1, 0))
        return ceiling / 2 + random.uniform(0, ceiling / 2)

    return backoff


class Gateway:
    """The running gateway of one API process."""

    def __init__(self, settings: Settings, database: Database) -> None:
        self.settings = settings
        self.database = database
        self.clients = clients(settings, database)
        self.platforms = {p: Platform(p, RENDERERS[p]) for p in self.clients}
        outbox_senders, _ = senders_for(settings, database, self.clients)
        self.outbox = Worker(database, {s.kind: s for s in outbox_senders},
                             max_attempts=settings.channel_send_attempts,
                             backoff=retry_backoff(settings.channel_retry_seconds),
                             periodic=[self._refresh_tokens],
                             periodic_every=REFRESH_CHECK_SECONDS)
        self.dispatcher = Dispatcher(database,
                                     RasaClient(settings.rasa_url, settings.rasa_timeout),
                                     self.platforms, on_enqueued=self.outbox.wake,
                                     lease_seconds=settings.rasa_timeout + 30)
        self._refresh_pause_until = 0.0
        self._stops: list = []
        self._threads: list = []

    @property
    def platforms_on(self) -> list[str]:
        return sorted(self.platforms)

    def start(self) -> Gateway:
        thread, stop = self.outbox.start_in_thread(self.settings.worker_interval)
        threads, dispatch_stop = self.dispatcher.start_threads(
            self.settings.channel_dispatchers, self.settings.worker_interval)
        self._threads, self._stops = [thread, *threads], [stop, dispatch_stop]
        return self

    def wake(self) -> None:
        self.dispatcher.wake()

    def stop(self) -> None:
        for stop in self._stops:
            stop.set()
        for _ in self._threads:
            self.dispatcher.wake()
        self.outbox.wake()
        for thread in self._threads:
            thread.join(timeout=10)

    def _refresh_tokens(self, session, now) -> None:
        """Zalo's access token is refreshed ahead of its expiry (from its ``expires_in``); after
        a refused refresh (an operator must grant access again) not every minute."""
        client = self.clients.get("zalo")
        if client is None or time.monotonic() < self._refresh_pause_until:
            return
        try:
            client.ensure_fresh()
        except SendError:
            self._refresh_pause_until = time.monotonic() + REFRESH_PAUSE_SECONDS


def log_platforms(settings: Settings) -> None:
    for line in describe(settings):
        log.warning(line)


__all__ = ["Gateway", "describe", "log_platforms"]
