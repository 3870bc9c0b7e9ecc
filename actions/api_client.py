"""The feedback API over HTTP, with a service token and short timeouts.

Blocking (``requests``), so the same client serves the actions (through ``run``, on a thread
pool: the action server's event loop never waits on the network) and the outbox thread.

Environment:
- ``CAUNOI_API_URL`` (default ``http://127.0.0.1:8000``)
- ``CAUNOI_SERVICE_TOKEN``, or the file named by ``CAUNOI_SERVICE_TOKEN_FILE``
  (default ``var/service_token`` under the repository); the file is read again when it changes.
- ``CAUNOI_API_TIMEOUT``: seconds to wait for an answer (default 5; connecting: 2).
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import requests

log = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parent.parent
DEFAULT_URL = "http://127.0.0.1:8000"
DEFAULT_TOKEN_FILE = REPO / "var" / "service_token"
CONNECT_TIMEOUT = 2.0
# Statuses after which the same request may succeed later: the API is down or overloaded, or
# the bot's token is wrong (an operator fixes it; nothing the citizen sent should be lost).
RETRYABLE = {401, 403, 408, 425, 429}

_pool = ThreadPoolExecutor(max_workers=16, thread_name_prefix="caunoi-api")


class ApiError(Exception):
    """A call that did not succeed: ``retryable`` tells whether trying again may help."""

    def __init__(self, message: str, *, status: int | None = None, retryable: bool) -> None:
        super().__init__(message)
        self.status = status
        self.retryable = retryable


@dataclass(frozen=True)
class Reply:
    status: int
    body: Any


class ApiClient:
    def __init__(
        self,
        base_url: str | None = None,
        token: str | None = None,
        token_file: str | None = None,
        timeout: float | None = None,
    ) -> None:
        env = os.environ
        self.base_url = (base_url or env.get("CAUNOI_API_URL") or DEFAULT_URL).rstrip("/")
        self._token = token if token is not None else env.get("CAUNOI_SERVICE_TOKEN") or None
        self._token_file = Path(
            token_file or env.get("CAUNOI_SERVICE_TOKEN_FILE") or DEFAULT_TOKEN_FILE
        )
        self._file_token: str | None = None
        self._file_mtime: float | None = None
        self.timeout = float(timeout or env.get("CAUNOI_API_TIMEOUT") or 5.0)
        self._local = threading.local()

    # --- plumbing --------------------------------------------------------------------------
    def token(self) -> str | None:
        if self._token:
            return self._token
        try:
            mtime = self._token_file.stat().st_mtime
        except OSError:
            return None
        if mtime != self._file_mtime:
            try:
                self._file_token = self._token_file.read_text(encoding="utf-8").strip() or None
            except OSError:
                self._file_token = None
            self._file_mtime = mtime
        return self._file_token

    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            self._local.session = session
        return session

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict | None = None,
        timeout: float | None = None,
        auth: bool = True,
    ) -> Reply:
        """One HTTP call; any answer below 500 comes back as a Reply, the rest raise ApiError."""
        headers = {"Accept": "application/json"}
        token = self.token() if auth else None
        if token:
            headers["Authorization"] = f"Bearer {token}"
        try:
            resp = self._session().request(
                method,
                self.base_url + path,
                json=json,
                params=params,
                headers=headers,
                timeout=(CONNECT_TIMEOUT, timeout or self.timeout),
            )
        except requests.RequestException as exc:
            raise ApiError(f"{method} {path}: {type(exc).__name__}", retryable=True) from None
        try:
            body = resp.json()
        except ValueError:
            body = {}
        if resp.status_code >= 500:
            raise ApiError(f"{method} {path}: HTTP {resp.status_code}",
                           status=resp.status_code, retryable=True)
        return Reply(resp.status_code, body)

    def _ok(self, reply: Reply, what: str) -> Any:
        if 200 <= reply.status < 300:
            return reply.body
        detail = reply.body.get("detail") if isinstance(reply.body, dict) else None
        raise ApiError(f"{what}: HTTP {reply.status} {detail or ''}".strip(),
                       status=reply.status, retryable=reply.status in RETRYABLE)

    # --- the calls the actions make ------------------------------------------------------
    def search(self, question: str, k: int = 5) -> dict:
        """Hits with citations and the ``confident`` flag. The token is sent although the
        endpoint is public: the API limits anonymous callers per address, and this one address
        speaks for every citizen (each is limited per sender at the chat instead)."""
        reply = self.request("GET", "/api/v1/search", params={"q": question[:1000], "k": k})
        return self._ok(reply, "search")

    def status(self, code: str) -> dict | None:
        """Public status of a tracking code, or None when the API does not know it (with the
        token, for the same reason as ``search``)."""
        reply = self.request("GET", f"/api/v1/status/{quote(code, safe='')}")
        if reply.status == 404:
            return None
        return self._ok(reply, "status")

    def post(self, path: str, payload: dict, *, timeout: float | None = None,
             params: dict | None = None) -> dict:
        """POST with the service token (submissions, votes): the response body, or ApiError."""
        reply = self.request("POST", path, json=payload, params=params, timeout=timeout)
        return self._ok(reply, path)


async def run(fn: Callable, *args: Any) -> Any:
    """Run a blocking call on the client's thread pool, from an action."""
    return await asyncio.get_running_loop().run_in_executor(_pool, lambda: fn(*args))
