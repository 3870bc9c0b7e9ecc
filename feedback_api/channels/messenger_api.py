"""Facebook Messenger Send API client (``/me/messages`` with the page token).

Sends use a pinned Graph version with ``appsecret_proof``, check the error in the answer and
never use a message tag other than ``HUMAN_AGENT`` (for officials' replies only). The page
token travels in the URL, so reasons and logs carry codes only. The webhook side is in
``messenger``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import urllib.error
import urllib.parse
import urllib.request
from http.client import HTTPException
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from feedback_api.channels import state
from feedback_api.channels.base import TokenInvalid, WindowClosed
from feedback_api.channels.messenger import PLATFORM, _is_int
from feedback_api.db import Database
from feedback_api.notify.senders import SendError
from feedback_api.settings import Settings

log = logging.getLogger(__name__)

MAX_RESPONSE_BYTES = 64 * 1024
MESSAGING_TYPES = frozenset({"RESPONSE", "UPDATE", "MESSAGE_TAG"})
TAGS = frozenset({"HUMAN_AGENT"})  # the other tags are retired; this one is for humans only
RETRYABLE_CODES = frozenset({1, 2, 4, 17, 32, 613, 1200})  # temporary, throttled
TOKEN_INVALID = 190
WINDOW = (10, 2018278)
TOKEN_ALERT = ("Messenger: page token không hợp lệ hoặc đã bị thu hồi (mã 190) — "
               "cần cấp lại token")
WINDOW_CLOSED = "Messenger: ngoài khung 24 giờ/7 ngày của nền tảng"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """The Graph API does not redirect; following one would carry a POST somewhere else."""

    def redirect_request(self, req, fp, code, msg, headers, newurl) -> None:
        return None


class MessengerClient:
    """The Send API with the page token (``/me/messages``), and the platform's health row.

    Errors become ``SendError``s whose reasons hold codes only: the token travels in the URL,
    so neither the URL nor the server's message text ever reaches a reason or a log.
    """

    def __init__(self, database: Database, settings: Settings, *, timeout: float = 10.0) -> None:
        self.database = database
        self.timeout = timeout
        self.endpoint = (f"{settings.messenger_graph_url.rstrip('/')}/"
                         f"{settings.messenger_graph_version}/me/messages")
        self.page_token = settings.messenger_page_token
        self.app_secret = settings.messenger_app_secret
        self.opener = urllib.request.build_opener(_NoRedirect)

    def send(self, user_id: str, message: dict, *, messaging_type: str = "RESPONSE",
             tag: str | None = None) -> str:
        """Send one message object to a citizen (PSID); return the platform's message id.

        ``MESSAGE_TAG`` with ``HUMAN_AGENT`` is for an official's reply after the 24-hour
        window, never for the assistant's own messages.
        """
        if messaging_type not in MESSAGING_TYPES:
            raise ValueError(f"unknown messaging_type {messaging_type!r}")
        if (messaging_type == "MESSAGE_TAG") != (tag is not None) or (tag and tag not in TAGS):
            raise ValueError(f"tag {tag!r} not allowed with {messaging_type}")
        if not self.page_token or not self.app_secret:
            raise SendError("Messenger: chưa cấu hình page token", retryable=False)
        body: dict[str, Any] = {"recipient": {"id": user_id}, "messaging_type": messaging_type,
                                "message": message}
        if tag:
            body["tag"] = tag
        status, answer = self._post(json.dumps(body, ensure_ascii=False).encode("utf-8"))
        message_id = answer.get("message_id") if isinstance(answer, dict) else None
        if status == 200 and isinstance(message_id, str) and message_id:
            self._record_send()
            return message_id
        raise self._error(status, answer)

    def health(self) -> dict:
        """What operators see: the alert that needs a person, and when a send last succeeded
        (ISO 8601, UTC)."""
        with self.database.session() as session:
            row = state.get_state(session, PLATFORM)
            last = row.last_send_at
            return {"alert": row.alert, "last_send_at": last.isoformat() if last else None}

    def _post(self, data: bytes) -> tuple[int, Any]:
        """The HTTP status and the decoded JSON answer (None when it is not JSON)."""
        proof = hmac.new(self.app_secret.encode("utf-8"), self.page_token.encode("utf-8"),
                         hashlib.sha256).hexdigest()
        query = urllib.parse.urlencode({"access_token": self.page_token,
                                        "appsecret_proof": proof})
        request = urllib.request.Request(
            f"{self.endpoint}?{query}", data=data, method="POST",
            headers={"Content-Type": "application/json; charset=utf-8",
                     "Accept": "application/json"})
        try:
            with self.opener.open(request, timeout=self.timeout) as response:
                status, raw = response.status, response.read(MAX_RESPONSE_BYTES)
        except urllib.error.HTTPError as err:
            # an error answer: read its body; the exception itself carries the URL
            try:
                status, raw = err.code, err.read(MAX_RESPONSE_BYTES)
            except (OSError, HTTPException):
                status, raw = err.code, b""
            finally:
                err.close()
        except (OSError, HTTPException, ValueError) as err:  # URLError, timeouts, resets
            raise SendError(f"Messenger: {_network_reason(err)}") from None
        try:
            return status, json.loads(raw)
        except (ValueError, RecursionError):
            return status, None

    def _error(self, status: int, answer: Any) -> SendError:
        """The ``SendError`` for a refused send: codes only, never the server's message."""
        error = answer.get("error") if isinstance(answer, dict) else None
        if not isinstance(error, dict):
            # a 200 that is not a send result, a proxy's error page: worth another try
            retryable = status < 300 or status >= 500 or status == 429
            return SendError(f"Messenger HTTP {status}: trả lời không hợp lệ",
                             retryable=retryable)
        code, subcode = error.get("code"), error.get("error_subcode")
        code = code if _is_int(code) else None
        subcode = subcode if _is_int(subcode) else None
        if code == TOKEN_INVALID:
            state.set_alert(self.database, PLATFORM, TOKEN_ALERT)
            return TokenInvalid(TOKEN_ALERT)
        if (code, subcode) == WINDOW:
            return WindowClosed(WINDOW_CLOSED)
        retryable = code in RETRYABLE_CODES or status >= 500 or status == 429
        reason = f"Messenger lỗi {_or_dash(code)}/{_or_dash(subcode)}"
        return SendError(reason, retryable=retryable)

    def _record_send(self) -> None:
        # The platform accepted the message: failing to note it must not cause a resend.
        try:
            state.record_send(self.database, PLATFORM)
        except SQLAlchemyError as exc:
            log.warning("messenger: could not record a send: %s", type(exc).__name__)


def _network_reason(err: BaseException) -> str:
    """The kind of a network failure, without the URL (it holds the token)."""
    cause = err.reason if isinstance(err, urllib.error.URLError) else err
    if isinstance(cause, TimeoutError):
        return "hết thời gian chờ"
    return f"lỗi kết nối ({type(cause).__name__})"


def _or_dash(value: int | None) -> str:
    return "-" if value is None else str(value)
