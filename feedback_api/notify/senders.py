"""Delivery plugins: one small class per way of sending, behind a tiny base class.

A sender delivers one outbox message or raises ``SendError``; the worker records the error on
the row and decides between retrying and giving up. Error reasons never contain personal data
(addresses, bodies, channel user ids): they are stored on the row and logged.
"""

from __future__ import annotations

import hashlib
import json
import smtplib
import socket
import ssl
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import formatdate
from functools import partial
from http.client import HTTPConnection, HTTPException, HTTPSConnection
from typing import ClassVar, Protocol

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from feedback_api.db import Database
from feedback_api.departments import webhooks
from feedback_api.departments.orm import Department
from feedback_api.errors import Invalid
from feedback_api.notify.orm import CitizenMessage, OutboxMessage

SIGNATURE_HEADER = "X-CauNoi-Signature"
TIMESTAMP_HEADER = "X-CauNoi-Timestamp"
MAX_RESPONSE_BYTES = 64 * 1024  # of a receiver's answer, read and dropped
RETRYABLE_4XX = frozenset({408, 429})


class SendError(Exception):
    """A delivery failed; ``retryable=False`` means trying again cannot help."""

    def __init__(self, reason: str, retryable: bool = True) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable


class Deferred(SendError):
    """Not now, and not a failed attempt: an earlier message to the same citizen is still on
    its way (the worker tries again after ``delay`` seconds without counting an attempt)."""

    def __init__(self, reason: str, delay: float = 1.0) -> None:
        super().__init__(reason, retryable=True)
        self.delay = delay


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


SecretFor = Callable[[OutboxMessage], bytes]


class WebhookSender(Sender):
    """POSTs ``{"event", "id", "data"}`` as JSON to a checked public address, signed.

    The signature covers a timestamp, so a captured delivery cannot be replayed later:
    ``X-CauNoi-Signature: sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>`` with
    ``X-CauNoi-Timestamp`` (Unix seconds). ``secret`` is the key for a message: fixed bytes, or
    a function of the message (the department's secret, departments/webhooks.py). The address
    is checked again at send time and the connection goes to exactly the checked addresses
    (no second DNS lookup, no proxy, no redirects).
    """

    kind = "webhook"

    def __init__(self, secret: SecretFor | str | bytes, *, allow_private: bool = False,
                 timeout: float = 10, clock: Callable[[], float] = time.time) -> None:
        if isinstance(secret, str | bytes):
            fixed = secret.encode("utf-8") if isinstance(secret, str) else secret

            def secret(message: OutboxMessage) -> bytes:  # one key for every message
                return fixed

        self.secret_for = secret
        self.allow_private = allow_private
        self.timeout = timeout
        self.clock = clock

    def send(self, message: OutboxMessage) -> None:
        url = payload_field(message, "url")
        try:
            destination = webhooks.check(url, allow_private=self.allow_private)
        except webhooks.Unresolved:
            raise SendError("webhook host did not resolve") from None
        except webhooks.Refused:
            raise SendError("webhook destination refused: not a public address",
                            retryable=False) from None
        except Invalid:
            raise SendError("webhook url is not http(s)", retryable=False) from None
        event = payload_field(message, "event")
        ident = delivery_id(message.dedupe_key)
        document = {"event": event, "id": ident, "data": message.payload.get("data") or {}}
        body = json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        timestamp = str(int(self.clock()))
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": "CauNoi-Webhook/1",
            "X-CauNoi-Event": event,
            "X-CauNoi-Delivery": ident,
            TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: webhooks.signature(self.secret_for(message), timestamp, body),
        }
        status = self._post(destination, body, headers)
        if 200 <= status < 300:
            return
        retryable = not (400 <= status < 500) or status in RETRYABLE_4XX
        raise SendError(f"webhook HTTP {status}", retryable=retryable)

    def _post(self, destination: webhooks.Destination, body: bytes, headers: dict) -> int:
        if destination.scheme == "https":
            conn: HTTPConnection = HTTPSConnection(
                destination.host, destination.port, timeout=self.timeout,
                context=ssl.create_default_context())
        else:
            conn = HTTPConnection(destination.host, destination.port, timeout=self.timeout)
        # Connect to the addresses that were checked, never to a fresh DNS answer; TLS still
        # verifies the certificate against the host name (SNI and the Host header keep it).
        conn._create_connection = partial(_connect_checked, destination.addresses)
        try:
            conn.request("POST", destination.target, body=body, headers=headers)
            with conn.getresponse() as response:
                response.read(MAX_RESPONSE_BYTES)
                return response.status
        except (HTTPException, OSError) as exc:
            raise SendError(f"webhook failed: {_os_reason(exc)}") from None
        finally:
            conn.close()


def _connect_checked(addresses: tuple[str, ...], address: tuple, timeout: float | None = None,
                     source_address=None) -> socket.socket:
    """``socket.create_connection`` to the first checked address that answers."""
    error: OSError | None = None
    for host in addresses:
        try:
            return socket.create_connection((host, address[1]), timeout, source_address)
        except OSError as exc:
            error = exc
    raise error or OSError("no address to connect to")


def department_secrets(database: Database, key: bytes) -> SecretFor:
    """The signing key of a webhook message: its department's current secret (read at send
    time, so a rotation applies to deliveries still queued)."""

    def secret_for(message: OutboxMessage) -> bytes:
        data = (message.payload or {}).get("data") or {}
        code = (message.payload or {}).get("department") or data.get("department")
        if not isinstance(code, str) or not code:
            raise SendError("webhook without department", retryable=False)
        with database.session() as session:
            version = session.scalar(
                select(Department.webhook_secret_version).where(Department.code == code))
        if not version:
            raise SendError("department has no webhook secret", retryable=False)
        return webhooks.department_secret(key, code=code, version=version).encode("ascii")

    return secret_for


class ChannelSender(Protocol):
    """Delivers a ``citizen_reply`` on some channels (web and api here; Zalo and Messenger in
    channels/senders.py)."""

    channels: set[str]

    def deliver(self, message: OutboxMessage) -> None:
        """Deliver once per outbox message, or raise ``SendError``."""


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
        payload_field(message, "sender_id")
        payload_field(message, "text")
        channel_sender.deliver(message)


class WebChannelSender:
    """Web chat and API clients fetch their replies from ``citizen_message``."""

    channels = {"web", "api"}

    def __init__(self, database: Database) -> None:
        self.database = database

    def deliver(self, message: OutboxMessage) -> None:
        payload = message.payload or {}
        with self.database.session() as session:
            stmt = select(CitizenMessage.id).where(CitizenMessage.outbox_id == message.id)
            if session.scalar(stmt) is not None:
                return  # delivered before (a worker crashed before marking it sent)
            row = CitizenMessage(
                channel=payload["channel"],
                sender_id=payload["sender_id"],
                text=payload["text"],
                tracking_code=payload.get("tracking_code") or None,
                outbox_id=message.id,
            )
            try:
                with session.begin_nested():
                    session.add(row)
            except IntegrityError:
                if session.scalar(stmt) is None:
                    raise
