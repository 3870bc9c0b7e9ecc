"""Zalo Official Account (Open API v3) webhook: signature, events and rendering.

Zalo signs a webhook with a plain SHA-256 (not an HMAC) of app id + raw body + timestamp + OA
secret key. Ids and timestamps arrive as strings and stay strings (they exceed 2^53). Sending
and the token pair live in ``zalo_api``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import math
from collections.abc import Mapping
from typing import Any

from feedback_api.channels.base import Inbound, Rejected, Rendered
from feedback_api.channels.render import CHOOSE, numbered, split_text

log = logging.getLogger(__name__)

PLATFORM = "zalo"
MAX_TEXT = 2000
MAX_BUTTONS = 4
MAX_BUTTON_TITLE = 35
MAX_AGE_SECONDS = 600
MAX_ID_CHARS = 200  # channel_event.event_key and user_id columns

SIGNATURE_HEADER = "X-ZEvent-Signature"
TIMESTAMP_HEADER = "X-ZEvent-Timestamp"
UNSUPPORTED = frozenset({
    "user_send_sticker", "user_send_gif", "user_send_audio", "user_send_video",
    "user_send_file", "user_send_link", "user_send_business_card",
})
MESSAGES = frozenset({"user_send_text", "user_send_location", "user_send_image"}) | UNSUPPORTED


# --- webhook: signature and events ---------------------------------------------------------


def verify(raw: bytes, headers: Mapping[str, str], *, app_id: str, oa_secret: str,
           now: float) -> bool:
    """True for a genuine event; False for Zalo's unsigned ``{}`` setup probe (answer 200,
    store nothing). Anything else raises ``Rejected``.

    The timestamp in the signature is the ``X-ZEvent-Timestamp`` header in some deliveries and
    the body's ``timestamp`` in others, so both are tried (header first).
    """
    signature = _header(headers, SIGNATURE_HEADER)
    if not signature:
        if b"".join(raw.split()) == b"{}":
            return False
        raise Rejected(401, "missing signature")
    try:
        body = json.loads(raw)
    except ValueError:
        raise Rejected(400, "body is not JSON") from None
    if not isinstance(body, dict):
        raise Rejected(400, "body is not a JSON object")
    candidates = [("header", _header(headers, TIMESTAMP_HEADER)),
                  ("body", _string(body.get("timestamp")))]
    candidates = [(source, value) for source, value in candidates if value]
    if not candidates:
        raise Rejected(400, "no timestamp")
    got = signature.strip()
    got = got[4:] if got[:4].lower() == "mac=" else got
    got_bytes = got.strip().lower().encode("utf-8", "replace")
    for source, timestamp in candidates:
        expected = _mac(app_id, raw, timestamp, oa_secret)
        if hmac.compare_digest(expected.encode("ascii"), got_bytes):
            log.debug("zalo signature matched the %s timestamp", source)
            break
    else:
        raise Rejected(401, "bad signature")
    sent_ms = _digits(timestamp)
    if sent_ms is None:
        raise Rejected(400, "timestamp is not epoch milliseconds")
    if abs(now - sent_ms / 1000) > MAX_AGE_SECONDS:
        raise Rejected(403, "stale event")
    return True


def _mac(app_id: str, raw: bytes, timestamp: str, oa_secret: str) -> str:
    """Zalo's MAC over the raw bytes as received (re-serialising the JSON would change them)."""
    data = app_id.encode("utf-8") + raw + timestamp.encode("utf-8") + oa_secret.encode("utf-8")
    return hashlib.sha256(data).hexdigest()


def _header(headers: Mapping[str, str], name: str) -> str | None:
    """A header by name in any case (Starlette's headers already are; a plain dict is not)."""
    value = headers.get(name)
    if value is None:
        lowered = name.lower()
        value = next((v for k, v in headers.items() if k.lower() == lowered), None)
    return value


def parse(raw: bytes) -> list[Inbound]:
    """The citizen event of a verified delivery (none for echoes, receipts, unfollow, anonymous
    users and anything unknown). A field missing or of the wrong type skips the event: Zalo's
    shapes vary between sources, and a bad event must never stop the webhook."""
    try:
        body = json.loads(raw)
    except ValueError:
        return []
    if not isinstance(body, dict):
        return []
    event = _event(body)
    if event is None or len(event.event_key) > MAX_ID_CHARS or len(event.user_id) > MAX_ID_CHARS:
        return []
    return [event]


def _event(body: dict) -> Inbound | None:
    name = body.get("event_name")
    timestamp = _string(body.get("timestamp"))
    timestamp_ms = _digits(timestamp)
    if name == "follow":
        follower = _string(_get(body, "follower", "id"))
        if not follower or not timestamp:
            return None
        return Inbound(event_key=f"follow:{follower}:{timestamp}", user_id=follower,
                       kind="follow", timestamp_ms=timestamp_ms)
    if not isinstance(name, str) or name not in MESSAGES:
        return None
    user_id = _string(_get(body, "sender", "id"))
    message = body.get("message")
    msg_id = _string(_get(body, "message", "msg_id"))
    if not user_id or not msg_id or not isinstance(message, dict):
        return None
    common: dict[str, Any] = {"event_key": msg_id, "user_id": user_id,
                              "timestamp_ms": timestamp_ms}
    if name == "user_send_text":
        text = message.get("text")
        if not isinstance(text, str) or not text.strip():
            return None
        text = text.strip()
        return Inbound(kind="payload" if text.startswith("/") else "text", text=text, **common)
    if name == "user_send_location":
        location = _location(message)
        return Inbound(kind="location", location=location, **common) if location else None
    if name == "user_send_image":
        urls = tuple(url for item in _attachments(message)
                     if isinstance(url := _get(item, "payload", "url"), str)
                     and url.startswith(("https://", "http://")))
        if not urls:
            return None
        caption = message.get("text")
        text = caption.strip() if isinstance(caption, str) else ""
        return Inbound(kind="image", text=text, attachments=urls, **common)
    return Inbound(kind="unsupported", **common)


def _location(message: dict) -> tuple[float, float] | None:
    """Latitude and longitude from any of the three shapes seen: attachment coordinates as
    strings (latitude/longitude) or numbers (lat/long), or ``message.location``."""
    first = next(iter(_attachments(message)), None)
    for place in (_get(first, "payload", "coordinates"), message.get("location")):
        if not isinstance(place, dict):
            continue
        lat = _coordinate(place.get("latitude", place.get("lat")), 90)
        lon = _coordinate(place.get("longitude", place.get("long")), 180)
        if lat is not None and lon is not None:
            return lat, lon
    return None


def _coordinate(value: Any, bound: float) -> float | None:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) and abs(number) <= bound else None


def _attachments(message: dict) -> list:
    items = message.get("attachments")
    return [item for item in items if isinstance(item, dict)] if isinstance(items, list) else []


def _get(data: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


def _string(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _digits(value: str | None) -> int | None:
    """A non-negative integer written in ASCII digits (Zalo's timestamps and lifetimes)."""
    return int(value) if value and value.isascii() and value.isdigit() else None


# --- rendering -------------------------------------------------------------------------------


def render(messages: list[dict]) -> Rendered:
    """Rasa's cleaned messages as Zalo ``message`` objects, in order.

    Up to four buttons with short titles go on the message's last text part as
    ``oa.query.hide`` buttons (a tap sends the payload back as the citizen's text, hidden from
    the chat); more, or a longer title, become numbered lines the citizen answers with a digit.
    An image is sent as its address; ``custom`` is dropped (the texts carry the links).
    """
    parts: list[dict] = []
    choices: dict[str, str] = {}
    for message in messages:
        if message.get("image"):
            parts.append({"text": message["image"]})
        text = message.get("text") or ""
        buttons = message.get("buttons") or []
        if buttons and not text.strip():
            text = CHOOSE
        as_buttons = len(buttons) <= MAX_BUTTONS and all(
            len(button["title"]) <= MAX_BUTTON_TITLE for button in buttons)
        if buttons and not as_buttons:
            text, choices = numbered(text, buttons)
        pieces = [{"text": piece} for piece in split_text(text, MAX_TEXT)]
        if buttons and as_buttons and pieces:
            pieces[-1]["attachment"] = {"type": "template", "payload": {"buttons": [
                {"title": b["title"], "type": "oa.query.hide", "payload": b["payload"]}
                for b in buttons]}}
        parts.extend(pieces)
    return Rendered(parts=parts, choices=choices)
