"""Rate limits of the public endpoints: per client address and, where a sender is known, per
sender. A spent limit is a 429 with ``Retry-After`` and a Vietnamese sentence (http.py).

Built on the maintained ``limits`` library, with moving windows (no double burst at a window's
edge). The counters live where ``CAUNOI_RATE_LIMIT_STORAGE`` says: ``memory://`` keeps them in
each API process, a Redis URL (``redis://127.0.0.1:6379/3``) gives every process one shared
budget. The limits are settings (settings.py, docs/operations.md). When the storage cannot be
reached the request goes through and the failure is logged: the limits protect the service
and must not be what takes it down.

Views attach one dependency per kind of endpoint (``ChatLimit``, ``SearchLimit`` …). A later
route limits itself per client address with ``per_client("webhooks", default="120/minute")``
(a ``rate_limit_webhooks`` setting, once added, overrides the default); code that knows its own
key calls ``limits.check(rule, *key)`` on the ``Limits`` dependency.

The client address is the connection's, or the one a trusted proxy forwards (uvicorn's
``--forwarded-allow-ips``, 127.0.0.1 by default). IPv6 addresses count per /64, the block one
subscriber gets. The storage never sees an address or a sender id: each key is an HMAC of
them (``settings.key("rate-limit")``), and every counter expires with its longest window.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import logging
import math
import time
from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request
from limits import RateLimitItem, parse_many
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from feedback_api.auth.service import Principal
from feedback_api.chat.deps import ChatDep
from feedback_api.deps import Service, SettingsDep, current_principal
from feedback_api.http import TooManyRequests
from feedback_api.settings import Settings

log = logging.getLogger(__name__)
STORAGE_WARNING_EVERY = 60.0  # seconds between two log lines about an unreachable storage
STORAGE_RETRY_AFTER = 5.0  # seconds without asking a storage that just failed
REDIS_TIMEOUT = 0.5  # seconds: a Redis that does not answer must not hold requests up


def _daily(count: int) -> str:
    return f"{count}/day" if count > 0 else ""


def rules(settings: Settings) -> dict[str, str]:
    """Each rule's limits, in the ``limits`` notation ("" = none)."""
    return {
        "chat": settings.rate_limit_chat,
        "chat_sender": settings.rate_limit_chat_sender,
        "search": settings.rate_limit_search,
        "status": settings.rate_limit_status,
        "articles": settings.rate_limit_articles,
        "open311": settings.rate_limit_open311,
        "open311_daily": _daily(settings.open311_submissions_per_day),
        "submissions": settings.rate_limit_submissions,
        "submissions_daily": _daily(settings.submissions_per_day),
        "votes": settings.rate_limit_votes,
        "replies": settings.rate_limit_replies,  # chat/replies.py, per chat sender
    }


class RateLimits:
    """The counters and limits of one app; made on its first limited request."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        uri = settings.rate_limit_storage
        options = {}
        if uri.startswith(("redis://", "rediss://", "redis+unix://")):
            options = {"socket_timeout": REDIS_TIMEOUT, "socket_connect_timeout": REDIS_TIMEOUT}
        self.limiter = MovingWindowRateLimiter(storage_from_string(uri, **options))
        self.rules = rules(settings)
        self._key = settings.key("rate-limit")
        self._parsed: dict[str, list[RateLimitItem]] = {}
        self._last_warning = 0.0
        self._down_until = 0.0

    def items(self, rule: str, default: str = "") -> list[RateLimitItem]:
        """The rule's limits: the table above, else a ``rate_limit_<rule>`` setting, else
        ``default`` (rules that later modules bring)."""
        if rule not in self._parsed:
            text = self.rules.get(rule)
            if text is None:
                text = getattr(self.settings, f"rate_limit_{rule}", default)
            self._parsed[rule] = parse_many(text) if text.strip() else []
        return self._parsed[rule]

    def check(self, rule: str, *key: str, default: str = "") -> None:
        """Count one request under ``rule`` for ``key``; ``TooManyRequests`` once spent."""
        items = self.items(rule, default)
        if not items or time.monotonic() < self._down_until:
            return
        who = hmac.new(self._key, "\x1f".join(key).encode(), hashlib.sha256).hexdigest()[:32]
        for item in items:
            try:
                if self.limiter.hit(item, rule, who):
                    continue
                reset = self.limiter.get_window_stats(item, rule, who).reset_time
            except Exception:  # noqa: BLE001 - any storage failure: let the request through
                self._storage_failed()
                return
            raise TooManyRequests(max(1, math.ceil(reset - time.time())))

    def _storage_failed(self) -> None:
        now = time.monotonic()
        self._down_until = now + STORAGE_RETRY_AFTER
        if now - self._last_warning >= STORAGE_WARNING_EVERY:
            self._last_warning = now
            log.warning("rate limit storage %s unreachable: requests are not limited",
                        self.settings.rate_limit_storage.split("@")[-1], exc_info=True)


async def _rate_limits(request: Request, settings: SettingsDep) -> RateLimits:
    state = request.app.state  # made on the event loop, so once per app
    limits = getattr(state, "rate_limits", None)
    if limits is None or limits.settings is not settings:
        limits = state.rate_limits = RateLimits(settings)
    return limits


Limits = Annotated[RateLimits, Depends(_rate_limits)]
Caller = Annotated[Principal | None, Depends(current_principal)]


def client_address(request: Request) -> str:
    """The client's address as a key: IPv4 as is, IPv6 as its /64."""
    host = request.client.host if request.client else ""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host or "unknown"
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network(f"{address}/64", strict=False))
    return str(address)


def per_client(rule: str, *, default: str = "", authenticated_exempt: bool = False) -> Callable:
    """A dependency that counts the route's requests per client address under ``rule``.

    ``authenticated_exempt``: callers with a valid token or inbox session are not counted (the
    action server asks for every citizen from one address; the chat limits each of them).
    """
    if authenticated_exempt:
        def check_unless_authenticated(request: Request, limits: Limits, caller: Caller) -> None:
            if caller is None:
                limits.check(rule, "ip", client_address(request), default=default)

        return check_unless_authenticated

    def check(request: Request, limits: Limits) -> None:
        limits.check(rule, "ip", client_address(request), default=default)

    return check


def _chat(request: Request, limits: Limits, chat: ChatDep) -> None:
    """Per sender (the signed cookie) first, so one spent sender does not use up the address's
    budget that others behind the same address share."""
    sender = chat.senders.read(request)
    if sender is not None:
        limits.check("chat_sender", "sender", sender)
    limits.check("chat", "ip", client_address(request))


async def _body_sender(request: Request) -> tuple[str, str] | None:
    """``channel`` and ``sender_id`` of a JSON body (already read and kept by FastAPI)."""
    try:
        data = json.loads(await request.body())
    except (ValueError, UnicodeDecodeError):
        return None  # the route answers 422 for it
    if not isinstance(data, dict):
        return None
    channel, sender = data.get("channel"), data.get("sender_id")
    if isinstance(channel, str) and isinstance(sender, str) and sender.strip():
        return channel[:40], sender.strip()[:200]
    return None


BodySender = Annotated[tuple[str, str] | None, Depends(_body_sender)]


def _submissions(principal: Service, limits: Limits, sender: BodySender) -> None:
    """The action server files for every citizen from one address with one token: count per
    channel+sender_id, after the token is checked (nobody else can spend a citizen's budget).
    A submission without a sender_id comes from a province system and is not counted."""
    if sender is not None:
        limits.check("submissions", "sender", *sender)
        limits.check("submissions_daily", "sender", *sender)


def _votes(principal: Service, limits: Limits, sender: BodySender) -> None:
    if sender is not None:
        limits.check("votes", "sender", *sender)


def _open311_submission(request: Request, limits: Limits) -> None:
    limits.check("open311_daily", "ip", client_address(request))


def _open311_codes(request: Request, limits: Limits) -> None:
    """Asking Open311 for items by tracking code is a status look-up: the same budget, so
    codes cannot be tried faster there than on /api/v1/status."""
    if "service_request_id" in request.path_params or request.query_params.get(
            "service_request_id"):
        limits.check("status", "ip", client_address(request))


ChatLimit = Depends(_chat)
SearchLimit = Depends(per_client("search", authenticated_exempt=True))
StatusLimit = Depends(per_client("status", authenticated_exempt=True))
ArticleLimit = Depends(per_client("articles", authenticated_exempt=True))
Open311Limit = Depends(per_client("open311"))
Open311SubmissionLimit = Depends(_open311_submission)
Open311CodeLimit = Depends(_open311_codes)
SubmissionLimit = Depends(_submissions)
VoteLimit = Depends(_votes)
