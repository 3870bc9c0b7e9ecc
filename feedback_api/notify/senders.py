"""Delivery plugins: one small class per way of sending, behind a tiny base class.

A sender delivers one outbox message or raises ``SendError``; the worker records the error on
the row and decides between retrying and giving up. Error reasons never contain personal data
(addresses, bodies, channel user ids): they are stored on the row and logged.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import smtplib
import urllib.error
import urllib.request
from abc import ABC, abstractmethod
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import formatdate
from http.client import HTTPException
from typing import ClassVar, Protocol
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from feedback_api.db import Database
from feedback_api.notify.orm import CitizenMessage, OutboxMessage

SIGNATURE_HEADER = "X-CauNoi-Signature"
RETRYABLE_4XX = frozenset({408, 429})


class SendError(Exception):
    """A delivery failed; ``retryable=False`` means trying again cannot help."""

    def __init__(self, reason: str, retryable: bool = True) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable


class Sender(ABC):
    """Delivers outbox messages of one ``kind``."""

    kind: ClassVar[str]

    @abstractmethod
    def send(self, message: OutboxMessage) -> None:
        """Deliver ``message`` or raise ``SendError``."""


def payload_field(message: OutboxMessage, name: str) -> str:
    """A required string field of the payload; a malformed payload is not worth retrying."""
    value = (message.payload or {}).get(name)
    if not isinstance(value, str) or not value:
        raise SendError(f"payload field {name!r} missing", retryable=False)
    return value


def delivery_id(dedupe_key: str) -> str:
    """A stable id for one logical message, for receivers that deduplicate."""
    return hashlib.sha256(dedupe_key.encode("utf-8")).hexdigest()[:32]


class EmailSender(Sender):
    """Plain-text UTF-8 email through an SMTP relay."""

    kind = "email"

    def __init__(self, host: str, port: int, sender: str, timeout: float = 10) -> None:
        self.host = host
        self.port = port
        self.sender = sender
        self.timeout = timeout

    def build(self, message: OutboxMessage) -> EmailMessage:
        """The email for an outbox message; its Message-ID is derived from the dedupe key."""
        email = EmailMessage(policy=SMTP_POLICY)
        email["From"] = self.sender
        email["To"] = payload_field(message, "to")
        email["Subject"] = payload_field(message, "subject")
        email["Date"] = formatdate(usegmt=True)
        domain = self.sender.rpartition("@")[2] or "caunoi.local"
        # Same logical message -> same Message-ID, so a resend after a crash can be deduplicated.
        email["Message-ID"] = f"<{delivery_id(message.dedupe_key)}.caunoi@{domain}>"
        email["Auto-Submitted"] = "auto-generated"
        email.set_content(payload_field(message, "body"), charset="utf-8")
        return email

    def send(self, message: OutboxMessage) -> None:
        try:
            email = self.build(message)
        except (ValueError, TypeError) as exc:
            raise SendError(f"invalid email: {type(exc).__name__}", retryable=False) from None
        try:
            smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        except (smtplib.SMTPException, OSError) as exc:
            raise SendError(f"SMTP connect failed: {_os_reason(exc)}") from None
        try:
            smtp.send_message(email)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = sorted({code for code, _reply in exc.recipients.values()})
            retryable = all(400 <= code < 500 for code in codes)
            raise SendError(f"SMTP recipient refused {codes}", retryable=retryable) from None
        except smtplib.SMTPResponseException as exc:
            # The server's reply text may echo addresses: keep only the code.
            code = exc.smtp_code
            raise SendError(f"SMTP {type(exc).__name__} {code}", retryable=code < 500) from None
        except (smtplib.SMTPException, OSError) as exc:
            raise SendError(f"SMTP send failed: {_os_reason(exc)}") from None
        finally:
            _quit_quietly(smtp)


def _quit_quietly(smtp: smtplib.SMTP) -> None:
    # After the server accepted DATA the message is sent; a failing QUIT must not cause a resend.
    try:
        smtp.quit()
    except (smtplib.SMTPException, OSError):
        smtp.close()


def _os_reason(exc: BaseException) -> str:
    """The kind of a network failure, without hosts or addresses."""
    detail = getattr(exc, "strerror", None) or ""
    return f"{type(exc).__name__} {detail}".strip()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirected POST would be replayed as GET without its body: treat 3xx as a failure."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


class WebhookSender(Sender):
    """POSTs ``{"event", "id", "data"}`` as JSON, signed with HMAC-SHA256 of the body."""

    kind = "webhook"

    def __init__(self, secret: str | bytes, timeout: float = 10) -> None:
        self.secret = secret.encode("utf-8") if isinstance(secret, str) else secret
        self.timeout = timeout
        self._opener = urllib.request.build_opener(_NoRedirect)

    def signature(self, body: bytes) -> str:
        """The value of the X-CauNoi-Signature header for ``body``."""
        return "sha256=" + hmac.new(self.secret, body, hashlib.sha256).hexdigest()

    def send(self, message: OutboxMessage) -> None:
        url = payload_field(message, "url")
        if urlsplit(url).scheme not in ("http", "https"):
            raise SendError("webhook url is not http(s)", retryable=False)
        event = payload_field(message, "event")
        ident = delivery_id(message.dedupe_key)
        document = {"event": event, "id": ident, "data": message.payload.get("data") or {}}
        body = json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        request = urllib.request.Request(url, data=body, method="POST")
        request.add_header("Content-Type", "application/json; charset=utf-8")
        request.add_header("X-CauNoi-Event", event)
        request.add_header("X-CauNoi-Delivery", ident)
        request.add_header(SIGNATURE_HEADER, self.signature(body))
        status = self._post(request)
        if 200 <= status < 300:
            return
        retryable = not (400 <= status < 500) or status in RETRYABLE_4XX
        raise SendError(f"webhook HTTP {status}", retryable=retryable)

    def _post(self, request: urllib.request.Request) -> int:
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                return response.status
        except urllib.error.HTTPError as exc:
            exc.close()
            return exc.code
        except urllib.error.URLError as exc:
            raise SendError(f"webhook unreachable: {_os_reason(exc.reason)}") from None
        except (HTTPException, OSError) as exc:
            raise SendError(f"webhook failed: {_os_reason(exc)}") from None


class ChannelSender(Protocol):
    """Delivers a reply to a citizen on some channels (web, api; Zalo and Messenger later)."""

    channels: set[str]

    def deliver(
        self, *, channel: str, sender_id: str, text: str, tracking_code: str, message_id: int
    ) -> None:
        """Deliver once per ``message_id`` (the outbox id), or raise ``SendError``."""


class CitizenReplySender(Sender):
    """Dispatches ``citizen_reply`` messages to the sender of the citizen's channel."""

    kind = "citizen_reply"

    def __init__(self, channel_senders: list[ChannelSender]) -> None:
        self.by_channel: dict[str, ChannelSender] = {}
        for channel_sender in channel_senders:
            for channel in channel_sender.channels:
                if channel in self.by_channel:
                    raise ValueError(f"two senders for channel {channel!r}")
                self.by_channel[channel] = channel_sender

    def send(self, message: OutboxMessage) -> None:
        channel = payload_field(message, "channel")
        channel_sender = self.by_channel.get(channel)
        if channel_sender is None:
            raise SendError(f"no sender for channel {channel!r}", retryable=False)
        channel_sender.deliver(
            channel=channel,
            sender_id=payload_field(message, "sender_id"),
            text=payload_field(message, "text"),
            tracking_code=(message.payload or {}).get("tracking_code") or "",
            message_id=message.id,
        )


class WebChannelSender:
    """Web chat and API clients fetch their replies from ``citizen_message``."""

    channels = {"web", "api"}

    def __init__(self, database: Database) -> None:
        self.database = database

    def deliver(
        self, *, channel: str, sender_id: str, text: str, tracking_code: str, message_id: int
    ) -> None:
        with self.database.session() as session:
            stmt = select(CitizenMessage.id).where(CitizenMessage.outbox_id == message_id)
            if session.scalar(stmt) is not None:
                return  # delivered before (a worker crashed before marking it sent)
            row = CitizenMessage(
                channel=channel,
                sender_id=sender_id,
                text=text,
                tracking_code=tracking_code or None,
                outbox_id=message_id,
            )
            try:
                with session.begin_nested():
                    session.add(row)
            except IntegrityError:
                if session.scalar(stmt) is None:
                    raise
