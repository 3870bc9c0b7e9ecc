"""Zalo Official Account Open API client: sending consultation messages and refreshing tokens.

Zalo answers a send with HTTP 200 and an ``error`` code in the body, and rotates a single-use
refresh token: two processes refreshing at once would leave one of them with a dead token, so a
refresh takes a lease on the ``channel_state`` row and persists the new pair before anyone uses
it. The webhook side (signature, events, rendering) is in ``zalo``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import update

from feedback_api.channels.base import TokenInvalid, WindowClosed
from feedback_api.channels.orm import ChannelState
from feedback_api.channels.state import get_state, record_send, set_alert
from feedback_api.channels.zalo import PLATFORM, _digits
from feedback_api.db import Database
from feedback_api.notify.senders import SendError
from feedback_api.settings import Settings

log = logging.getLogger(__name__)

MAX_RESPONSE_BYTES = 1_000_000
TOKEN_ERRORS = frozenset({-216, -220})  # invalid / expired access token: refresh, resend once
WINDOW_ERRORS = frozenset({-230, -232})  # no interaction within 7 days: never retried
RATE_LIMITED = -32
REFRESH_FAILED = "Zalo: làm mới access token thất bại — cần cấp quyền lại cho ứng dụng"
DEFAULT_LIFETIME = 25 * 3600  # seconds, when a refresh answer has no expires_in
SEND_MARGIN = 600  # refresh before a send when the token expires within 10 minutes
LEASE_SECONDS = 30
WAIT_SECONDS = 30
POLL_SECONDS = 0.15


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class ZaloClient:
    """Sends consultation messages and keeps the OA's token pair fresh, shared by every process
    through the ``channel_state`` row "zalo"."""

    def __init__(self, database: Database, settings: Settings, *, timeout: float = 10.0,
                 clock=time.time) -> None:
        self.database = database
        self.settings = settings
        self.timeout = timeout
        self.clock = clock
        # (token_version, when this process first saw it): the token's lifetime, estimated for
        # ensure_fresh, without a column for the time it was issued
        self._seen: tuple[int, float] | None = None

    def seed(self) -> None:
        """Take the environment's token pair when the database has none, or when the operator
        put a new refresh token in the environment (access granted again). Otherwise the
        database's pair wins: the environment's refresh token died at the first refresh."""
        env_refresh = self.settings.zalo_refresh_token
        env_access = self.settings.zalo_access_token
        if not (env_refresh or env_access):
            return
        fingerprint = sha256_hex(env_refresh)
        with self.database.session() as session:
            get_state(session, PLATFORM)
            row = session.get(ChannelState, PLATFORM, with_for_update=True,
                              populate_existing=True)
            if row.refresh_token and row.seed_fingerprint == fingerprint:
                return
            row.access_token = env_access or None
            row.refresh_token = env_refresh or None
            row.token_expires_at = None
            row.token_version = (row.token_version or 0) + 1
            row.seed_fingerprint = fingerprint
            row.alert, row.alert_at = None, None
        log.info("zalo: token pair taken from the environment")

    def send(self, user_id: str, message: dict) -> str:
        """Send one message object to a citizen; return Zalo's message id or raise
        ``SendError`` (``WindowClosed``, ``TokenInvalid``)."""
        token, version, expires_at = self._token()
        if not token or (expires_at is not None and expires_at - self.clock() < SEND_MARGIN):
            self.refresh(failed_version=version)
            token, version, _ = self._token()
        code, data = self._post_message(token, user_id, message)
        if code in TOKEN_ERRORS:
            self.refresh(failed_version=version)
            token, _, _ = self._token()
            code, data = self._post_message(token, user_id, message)
            if code in TOKEN_ERRORS:
                reason = f"Zalo: access token vẫn bị từ chối sau khi làm mới ({code})"
                set_alert(self.database, PLATFORM, reason, self._now())
                raise TokenInvalid(reason)
        if code in WINDOW_ERRORS:
            raise WindowClosed(f"Zalo: người dân chưa tương tác với OA trong 7 ngày ({code})")
        if code == RATE_LIMITED:
            raise SendError(f"Zalo: vượt giới hạn tần suất ({code})")
        if code != 0:
            raise SendError(f"Zalo lỗi {code}", retryable=False)
        record_send(self.database, PLATFORM, self._now())
        message_id = data.get("message_id") if isinstance(data, dict) else None
        return str(message_id) if message_id is not None else ""

    def refresh(self, failed_version: int | None = None) -> None:
        """Exchange the refresh token for a new pair, once across processes.

        ``failed_version`` is the token version that failed (default: the current one): when
        the stored version has moved past it, another process refreshed and nothing is done.
        """
        if failed_version is None:
            failed_version = self._token()[1]
        deadline = time.monotonic() + WAIT_SECONDS
        while not self._take_lease():
            if self._token()[1] > failed_version:
                return
            if time.monotonic() > deadline:
                raise SendError("Zalo: chờ làm mới access token quá lâu")
            time.sleep(POLL_SECONDS)
        persisted = False
        try:
            token, version, _ = self._token(refresh_token=True)
            if version > failed_version:
                return
            if not token:
                self._refused("không có refresh token")
            pair = self._exchange(token)
            self._persist(*pair)
            persisted = True
        finally:
            if not persisted:
                self._release_lease()

    def ensure_fresh(self) -> bool:
        """Refresh ahead of expiry (the dispatcher calls this about once a minute): when the
        token is missing or expires within max(1 h, 10% of its lifetime). Returns whether it
        refreshed; raises like ``refresh``.

        No column keeps when a token was issued, so its lifetime is estimated from when this
        process first saw its version; the margin is capped at half of it, so that a
        short-lived token is not refreshed at every call.
        """
        token, version, expires_at = self._token()
        now = self.clock()
        if self._seen is None or self._seen[0] != version:
            self._seen = (version, now)
        if token and expires_at is None:
            return False  # lifetime unknown (a seeded access token): -216 will refresh it
        if token:
            lifetime = expires_at - self._seen[1]
            margin = min(max(3600.0, lifetime / 10), lifetime / 2)
            if expires_at - now >= margin:
                return False
        self.refresh(failed_version=version)
        return True

    def health(self) -> dict:
        with self.database.session() as session:
            row = get_state(session, PLATFORM)
            return {"token_expires_at": (row.token_expires_at.isoformat()
                                         if row.token_expires_at else None),
                    "token_version": row.token_version or 0, "alert": row.alert}

    # --- internals ---

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), UTC)

    def _token(self, *, refresh_token: bool = False) -> tuple[str | None, int, float | None]:
        """The stored access token (or refresh token), its version and its expiry (Unix s)."""
        with self.database.session() as session:
            row = get_state(session, PLATFORM)
            token = row.refresh_token if refresh_token else row.access_token
            expires = row.token_expires_at.timestamp() if row.token_expires_at else None
            return token or None, row.token_version or 0, expires

    def _take_lease(self) -> bool:
        """The refresh lease on the row, if nobody holds an unexpired one (SQLite and
        PostgreSQL: one conditional UPDATE, the row count says who won)."""
        now = self._now()
        with self.database.session() as session:
            get_state(session, PLATFORM)
            table = ChannelState.__table__
            result = session.execute(
                update(table).where(
                    table.c.platform == PLATFORM,
                    (table.c.refresh_lease_until.is_(None))
                    | (table.c.refresh_lease_until < now))
                .values(refresh_lease_until=now + timedelta(seconds=LEASE_SECONDS)))
            return result.rowcount == 1

    def _release_lease(self) -> None:
        with self.database.session() as session:
            get_state(session, PLATFORM).refresh_lease_until = None

    def _persist(self, access_token: str, refresh_token: str | None, lifetime: int) -> None:
        """The new pair, its expiry and a new version, in one transaction, lease released."""
        with self.database.session() as session:
            row = session.get(ChannelState, PLATFORM, with_for_update=True,
                              populate_existing=True)
            row.access_token = access_token
            row.refresh_token = refresh_token or row.refresh_token
            row.token_expires_at = self._now() + timedelta(seconds=lifetime)
            row.token_version = (row.token_version or 0) + 1
            row.refresh_lease_until = None
            row.alert, row.alert_at = None, None
        log.info("zalo: access token refreshed, valid for %d s", lifetime)

    def _exchange(self, refresh_token: str) -> tuple[str, str | None, int]:
        """POST the refresh token to Zalo's OAuth server: (access, refresh, lifetime in s)."""
        form = urllib.parse.urlencode({"refresh_token": refresh_token,
                                       "app_id": self.settings.zalo_app_id,
                                       "grant_type": "refresh_token"}).encode("ascii")
        url = self.settings.zalo_oauth_url.rstrip("/") + "/v4/oa/access_token"
        headers = {"Content-Type": "application/x-www-form-urlencoded",
                   "secret_key": self.settings.zalo_app_secret}
        status, raw = self._post(url, form, headers, what="làm mới token")
        if status >= 500 or status == 429:
            raise SendError(f"Zalo: làm mới token lỗi HTTP {status}")
        if status >= 400:
            self._refused(f"HTTP {status}")
        try:
            data = json.loads(raw)
        except ValueError:
            raise SendError("Zalo: làm mới token trả lời không hợp lệ") from None
        if not isinstance(data, dict):
            raise SendError("Zalo: làm mới token trả lời không hợp lệ")
        access = data.get("access_token")
        error = data.get("error")
        if not isinstance(access, str) or not access or (error not in (None, 0, "0")) \
                or data.get("error_description"):
            self._refused(f"mã lỗi {error}" if error not in (None, 0, "0") else "không có token")
        refresh = data.get("refresh_token")
        lifetime = _digits(str(data.get("expires_in") or "")) or DEFAULT_LIFETIME
        return access, refresh if isinstance(refresh, str) and refresh else None, lifetime

    def _refused(self, detail: str) -> None:
        reason = f"{REFRESH_FAILED} ({detail})"
        set_alert(self.database, PLATFORM, reason, self._now())
        raise TokenInvalid(reason)

    def _post_message(self, token: str | None, user_id: str, message: dict) -> tuple[int, Any]:
        """POST one consultation message; Zalo's ``error`` code and ``data``."""
        body = json.dumps({"recipient": {"user_id": user_id}, "message": message},
                          ensure_ascii=False).encode("utf-8")
        url = self.settings.zalo_openapi_url.rstrip("/") + "/v3.0/oa/message/cs"
        headers = {"Content-Type": "application/json", "access_token": token or ""}
        status, raw = self._post(url, body, headers, what="gửi tin")
        if status >= 500 or status == 429:
            raise SendError(f"Zalo HTTP {status}")
        if status >= 400:
            raise SendError(f"Zalo HTTP {status}", retryable=False)
        try:
            data = json.loads(raw)
        except ValueError:
            raise SendError("Zalo: trả lời không hợp lệ") from None
        code = data.get("error") if isinstance(data, dict) else None
        if isinstance(code, bool) or not isinstance(code, int):
            raise SendError("Zalo: trả lời không hợp lệ")
        return code, data.get("data")

    def _post(self, url: str, body: bytes, headers: dict, *, what: str) -> tuple[int, bytes]:
        """POST and read the answer (any HTTP status); network failures are retryable."""
        request = urllib.request.Request(url, data=body, method="POST", headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return response.status, response.read(MAX_RESPONSE_BYTES)
        except urllib.error.HTTPError as err:
            with err:
                return err.code, err.read(MAX_RESPONSE_BYTES)
        except TimeoutError:
            raise SendError(f"Zalo: {what} quá thời gian chờ") from None
        except urllib.error.URLError as err:
            if isinstance(err.reason, TimeoutError):
                raise SendError(f"Zalo: {what} quá thời gian chờ") from None
            raise SendError(f"Zalo: {what} không kết nối được") from None
        except (OSError, ValueError):  # reset connection, malformed status line
            raise SendError(f"Zalo: {what} bị ngắt kết nối") from None
