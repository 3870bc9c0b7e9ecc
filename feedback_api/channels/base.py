"""What every platform module shares: the parsed inbound event, rejections and send results."""

from __future__ import annotations

from dataclasses import dataclass, field

from feedback_api.notify.senders import SendError

PLATFORMS = ("zalo", "messenger")


class Rejected(Exception):
    """A webhook request that must be refused (``status``: 401, 403 or 400)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason  # for the log and the operator: never personal data


class WindowClosed(SendError):
    """The platform's messaging window for this citizen is closed: not sent, never retried."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason, retryable=False)


class TokenInvalid(SendError):
    """The platform refused our token (Zalo -216/-220 after a refresh, Messenger 190): an
    operator must act; the message is not retried."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason, retryable=False)


@dataclass(frozen=True)
class Inbound:
    """One citizen event of a webhook delivery, in the platform's order.

    ``event_key`` is the platform's message id (Zalo ``msg_id``, Messenger ``mid``): a second
    delivery of the same key is dropped. ``text`` is what goes to Rasa: the typed text, or the
    payload of a tapped button (``kind`` "payload"). A shared place comes as ``location``
    (latitude, longitude), photos as http(s) ``attachments``.
    """

    event_key: str
    user_id: str
    kind: str  # "text" | "payload" | "location" | "image" | "follow" | "unsupported"
    text: str = ""
    location: tuple[float, float] | None = None
    attachments: tuple[str, ...] = ()
    timestamp_ms: int | None = None

    def as_json(self) -> dict:
        return {"kind": self.kind, "text": self.text,
                "location": list(self.location) if self.location else None,
                "attachments": list(self.attachments)}


@dataclass(frozen=True)
class Rendered:
    """Rasa's messages of one turn as the platform's message objects, in order.

    ``choices`` maps a digit the citizen may answer with to a payload, when there were more
    choices than the platform shows as buttons (they were listed as numbered text).
    """

    parts: list[dict] = field(default_factory=list)
    choices: dict[str, str] = field(default_factory=dict)
