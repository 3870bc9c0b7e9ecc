"""Facebook Messenger Platform webhook: subscription and signature checks, events, rendering.

Unlike Rasa's stock ``facebook`` connector (notes in CORRECTIONS §3): the webhook is checked
with ``X-Hub-Signature-256`` only, in constant time, and refused with 401/403 instead of a
silent 200; every entry and every event of a batch is read, entries without ``messaging``
(standby, page feed) are skipped, echoes of every type are dropped, stickers are recognised;
buttons are rendered within the platform's limits (template, quick replies, else numbered
text). The Send API client is in ``messenger_api``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import re
from collections.abc import Mapping
from typing import Any

from feedback_api.channels.base import Inbound, Rejected, Rendered
from feedback_api.channels.render import CHOOSE, numbered, split_text

PLATFORM = "messenger"
MAX_TEXT = 2000
MAX_QUICK_REPLIES = 13
MAX_TITLE = 20
MAX_TEMPLATE_BUTTONS = 3
MAX_TEMPLATE_TEXT = 640
MAX_PAYLOAD = 1000

MAX_CHALLENGE = 200
MAX_ID = 200  # channel_event.event_key and user_id columns
MAX_URL = 2048
SIGNATURE_HEADER = "X-Hub-Signature-256"
SIGNATURE = re.compile(r"sha256=([0-9a-fA-F]{64})")


# --- webhook checks --------------------------------------------------------------------------

def verify_subscription(params: Mapping[str, str], *, verify_token: str) -> str:
    """The ``hub.challenge`` to echo when Meta sets up the webhook with our verify token.

    Rasa's connector ignored ``hub.mode`` and answered 200 on a wrong token; here anything but
    a proper subscription request is a 403.
    """
    mode = params.get("hub.mode")
    token = params.get("hub.verify_token")
    challenge = params.get("hub.challenge")
    if not verify_token or mode != "subscribe" or not isinstance(token, str):
        raise Rejected(403, "bad subscription request")
    if not hmac.compare_digest(token.encode("utf-8", "surrogatepass"),
                               verify_token.encode("utf-8", "surrogatepass")):
        raise Rejected(403, "bad verify token")
    if not isinstance(challenge, str) or not challenge or len(challenge) > MAX_CHALLENGE:
        raise Rejected(403, "bad challenge")
    return challenge


def verify(raw: bytes, headers: Mapping[str, str], *, app_secret: str) -> None:
    """Accept a webhook body signed by Meta with the app secret, else raise ``Rejected``.

    Only ``X-Hub-Signature-256`` counts: the SHA-1 header alone is not enough, and the
    algorithm is never taken from the request (Rasa's ``getattr(hashlib, prefix)`` accepted
    ``md5=`` and crashed on unknown prefixes).
    """
    value = _header(headers, SIGNATURE_HEADER)
    if value is None or not value.strip():
        raise Rejected(401, "missing signature")
    match = SIGNATURE.fullmatch(value.strip())
    if not app_secret or match is None:
        raise Rejected(403, "bad signature")
    expected = hmac.new(app_secret.encode("utf-8"), raw, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(match.group(1).lower().encode("ascii"), expected.encode("ascii")):
        raise Rejected(403, "bad signature")


def _header(headers: Mapping[str, str], name: str) -> str | None:
    """A header by name, whatever its case (a plain dict or Starlette's ``Headers``)."""
    wanted = name.lower()
    for key, value in headers.items():
        if isinstance(key, str) and key.lower() == wanted and isinstance(value, str):
            return value
    return None


# --- inbound events --------------------------------------------------------------------------

def parse(raw: bytes) -> list[Inbound]:
    """Every citizen event of a delivery, in the platform's order; nothing else.

    Receipts, reactions, opt-ins, referrals and echoes of the page's own messages are dropped;
    an event with an ill-typed field is dropped alone; the rest of the batch still counts.
    """
    try:
        body = json.loads(raw)
    except (ValueError, TypeError, RecursionError):
        return []
    if not isinstance(body, dict) or body.get("object") != "page":
        return []
    entries = body.get("entry")
    events: list[Inbound] = []
    for entry in entries if isinstance(entries, list) else []:
        # standby and page-feed entries have no "messaging" (Rasa's KeyError, #10456)
        messaging = entry.get("messaging") if isinstance(entry, dict) else None
        for event in messaging if isinstance(messaging, list) else []:
            inbound = _event(event) if isinstance(event, dict) else None
            if inbound is not None:
                events.append(inbound)
    return events


def _event(event: dict) -> Inbound | None:
    sender = event.get("sender")
    user_id = sender.get("id") if isinstance(sender, dict) else None
    timestamp = event.get("timestamp")
    if not _good_id(user_id) or not (timestamp is None or _is_int(timestamp)):
        return None
    if "message" in event:
        return _message(event["message"], user_id, timestamp)
    if "postback" in event:
        return _postback(event["postback"], user_id, timestamp)
    return None  # delivery, read, reaction, optin, referral, handover...


def _message(message: Any, user_id: str, timestamp: int | None) -> Inbound | None:
    if not isinstance(message, dict) or message.get("is_echo"):
        return None  # the page's own message, whatever its type (Rasa let attachments through)
    mid = message.get("mid")
    if not _good_id(mid):
        return None
    base = {"event_key": mid, "user_id": user_id, "timestamp_ms": timestamp}
    if "quick_reply" in message:
        quick = message["quick_reply"]
        payload = quick.get("payload") if isinstance(quick, dict) else None
        if not isinstance(payload, str) or not payload.strip():
            return None
        return Inbound(kind="payload", text=payload, **base)
    text = message.get("text")
    if text is not None and not isinstance(text, str):
        return None
    if text and text.strip():
        return Inbound(kind="text", text=text, **base)
    if "attachments" not in message:
        return None
    return _attachments(message, base)


def _attachments(message: dict, base: dict) -> Inbound | None:
    """A shared place, else the photos, else something the assistant cannot read."""
    attachments = message["attachments"]
    if not isinstance(attachments, list) or not attachments:
        return None
    sticker = message.get("sticker_id") is not None
    urls: list[str] = []
    for attachment in attachments:
        if not isinstance(attachment, dict):
            return None
        kind = attachment.get("type")
        payload = attachment.get("payload")
        if payload is not None and not isinstance(payload, dict):
            return None
        payload = payload or {}
        if kind == "location":
            location = _location(payload.get("coordinates"))
            return Inbound(kind="location", location=location, **base) if location else None
        if kind == "image" and not sticker and payload.get("sticker_id") is None:
            url = payload.get("url")
            if isinstance(url, str) and url.startswith(("https://", "http://")) \
                    and len(url) <= MAX_URL:
                urls.append(url)
    if urls:
        return Inbound(kind="image", attachments=tuple(urls), **base)
    return Inbound(kind="unsupported", **base)  # sticker, audio, video, file, fallback


def _location(coordinates: Any) -> tuple[float, float] | None:
    if not isinstance(coordinates, dict):
        return None
    lat, long = coordinates.get("lat"), coordinates.get("long")
    if not all(isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
               for v in (lat, long)):
        return None
    if not (-90 <= lat <= 90 and -180 <= long <= 180):
        return None
    return float(lat), float(long)


def _postback(postback: Any, user_id: str, timestamp: int | None) -> Inbound | None:
    """A tapped template button, menu item or Get Started: its payload goes to Rasa."""
    if not isinstance(postback, dict):
        return None
    payload = postback.get("payload")
    if not isinstance(payload, str) or not payload.strip():
        return None
    mid = postback.get("mid")
    if mid is None:
        if timestamp is None:
            return None
        mid = f"postback:{user_id}:{timestamp}"
    if not _good_id(mid):
        return None
    return Inbound(event_key=mid, user_id=user_id, kind="payload", text=payload,
                   timestamp_ms=timestamp)


def _good_id(value: Any) -> bool:
    return isinstance(value, str) and 0 < len(value) <= MAX_ID and value.strip() == value


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


# --- rendering -------------------------------------------------------------------------------

def render(messages: list[dict]) -> Rendered:
    """Rasa's cleaned messages of one turn as Messenger ``message`` objects, in order.

    Each message gives its text (split at sentence ends), then its image as a link. Its buttons
    go on the last piece of its text: a button template when they fit (≤ 3, short titles, text
    ≤ 640), else quick replies (≤ 13), else numbered lines answered with a digit (the last
    numbered list of the turn is the one ``choices`` describes). ``custom`` is not rendered:
    the texts already carry the article links.
    """
    parts: list[dict] = []
    choices: dict[str, str] = {}
    for message in messages:
        text = message.get("text") or ""
        buttons = message.get("buttons") or []
        if buttons and not text.strip():
            text = CHOOSE
        pieces = split_text(text, MAX_TEXT) if text.strip() else []
        if buttons:
            last, listed = _with_buttons(pieces.pop(), buttons)
            parts.extend({"text": piece} for piece in pieces)
            parts.extend(last)
            if listed:
                choices = listed
        else:
            parts.extend({"text": piece} for piece in pieces)
        image = message.get("image")
        if isinstance(image, str) and image.startswith(("https://", "http://")):
            parts.append({"text": image})  # a relative path means nothing in Messenger
    return Rendered(parts=parts, choices=choices)


def _with_buttons(text: str, buttons: list[dict]) -> tuple[list[dict], dict[str, str]]:
    """The parts for a text with its buttons, and digit -> payload when they were numbered."""
    fit = all(0 < len(b["title"]) <= MAX_TITLE and 0 < len(b["payload"]) <= MAX_PAYLOAD
              for b in buttons)
    if fit and len(buttons) <= MAX_TEMPLATE_BUTTONS and len(text) <= MAX_TEMPLATE_TEXT:
        template = {"template_type": "button", "text": text, "buttons": [
            {"type": "postback", "title": b["title"], "payload": b["payload"]} for b in buttons]}
        return [{"attachment": {"type": "template", "payload": template}}], {}
    if fit and len(buttons) <= MAX_QUICK_REPLIES:
        replies = [{"content_type": "text", "title": b["title"], "payload": b["payload"]}
                   for b in buttons]
        return [{"text": text, "quick_replies": replies}], {}
    listed, choices = numbered(text, buttons)
    return [{"text": piece} for piece in split_text(listed, MAX_TEXT)], choices
