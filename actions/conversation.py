"""What the actions read from the conversation (Rasa's tracker): slot values, the latest
message, the channel; and the reset of the feedback form's slots."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet

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


def value(tracker: Tracker, slot: str) -> Any:
    """A slot's value, with a skipped or blank answer read as nothing."""
    v = tracker.get_slot(slot)
    if isinstance(v, str) and (not v.strip() or v.strip() == SKIPPED):
        return None
    return v


def channel(tracker: Tracker) -> str:
    return CHANNELS.get((tracker.get_latest_input_channel() or "").lower(), "api")


# The API's channel gateway talks to Rasa as "<platform>:<platform user id>"
# (feedback_api/channels/dispatcher.py); the feedback store keeps the platform's own id.
NAMESPACED = ("zalo", "messenger", "zalo_miniapp")


def sender(tracker: Tracker) -> str | None:
    sender_id = tracker.sender_id or ""
    prefix, _, rest = sender_id.partition(":")
    if rest and prefix == channel(tracker) and prefix in NAMESPACED:
        sender_id = rest
    return sender_id[:200] or None


def latest_intent(tracker: Tracker) -> str | None:
    return (tracker.latest_message.get("intent") or {}).get("name")


def latest_text(tracker: Tracker) -> str:
    return (tracker.latest_message.get("text") or "").strip()


def latest_user_time(tracker: Tracker) -> str:
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            return str(event.get("timestamp") or "")
    return ""


def reset_feedback() -> list[dict[str, Any]]:
    """Events that empty the feedback form (a new complaint or proposal starts from nothing)."""
    return [SlotSet(s, None) for s in FEEDBACK_SLOTS] + [SlotSet("requested_slot", None)]
