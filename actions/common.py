"""What every action shares: the API client and outbox of this process, and tracker helpers."""

from __future__ import annotations

import hashlib
import os
import re
import threading
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet

from actions.api_client import ApiClient
from actions.outbox import Outbox

SKIPPED = "(bỏ qua)"  # the value of a slot the citizen chose to skip (bot/domain/slots.yml)
FEEDBACK_SLOTS = (
    "feedback_kind", "feedback_text", "location", "policy_citation", "phone_consent", "phone",
    "edit_field", "submission_key", "citation_candidates", "cited_articles",
)
# Rasa input channel -> the API's channel names
CHANNELS = {
    "rest": "web", "socketio": "web", "web": "web", "chat": "web",
    "zalo": "zalo", "zalo_miniapp": "zalo_miniapp", "zalo_mini_app": "zalo_miniapp",
    "messenger": "messenger", "facebook": "messenger",
}
CODE_IN_TEXT = re.compile(r"\b(PA|KN|CH)[\s_\-–.]*([0-9A-Z]{6,10})\b", re.IGNORECASE)
WAIT_FOR_ROUTING = 3.0  # seconds the API may wait to name the department in its answer

_lock = threading.Lock()
_services: tuple[ApiClient, Outbox] | None = None


def services() -> tuple[ApiClient, Outbox]:
    """This process's API client and outbox; the outbox's delivery thread starts with them."""
    global _services
    with _lock:
        if _services is None:
            client = ApiClient()
            outbox = Outbox(os.environ.get("CAUNOI_ACTIONS_OUTBOX"), client)
            outbox.start()
            _services = (client, outbox)
        return _services


def public_url() -> str:
    return os.environ.get("CAUNOI_PUBLIC_URL") or "http://127.0.0.1:8000"


def value(tracker: Tracker, slot: str) -> Any:
    """A slot's value, with a skipped or blank answer read as nothing."""
    v = tracker.get_slot(slot)
    if isinstance(v, str) and (not v.strip() or v.strip() == SKIPPED):
        return None
    return v


def channel(tracker: Tracker) -> str:
    return CHANNELS.get((tracker.get_latest_input_channel() or "").lower(), "api")


def sender(tracker: Tracker) -> str | None:
    return (tracker.sender_id or "")[:200] or None


def latest_intent(tracker: Tracker) -> str | None:
    return (tracker.latest_message.get("intent") or {}).get("name")


def latest_text(tracker: Tracker) -> str:
    return (tracker.latest_message.get("text") or "").strip()


def latest_user_time(tracker: Tracker) -> str:
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            return str(event.get("timestamp") or "")
    return ""


def key(prefix: str, *parts: Any) -> str:
    """An idempotency key the API accepts ([A-Za-z0-9._:-], 8-200 characters)."""
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode("utf-8")).hexdigest()
    return f"bot-{prefix}-{digest[:32]}"


def tracking_code_in(text: str) -> str | None:
    """A tracking code written anywhere in a message ("pa 7k3m9qx2", "KN-7K3M9QX2")."""
    match = CODE_IN_TEXT.search(text or "")
    if not match:
        return None
    return f"{match.group(1).upper()}-{match.group(2).upper()}"


def reset_feedback(*, keep: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    return [SlotSet(s, None) for s in FEEDBACK_SLOTS if s not in keep] + [
        SlotSet("requested_slot", None)
    ]
