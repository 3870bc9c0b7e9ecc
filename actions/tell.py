"""Telling: the feedback form (``validate_feedback_form``), submitting a complaint or a
proposal, correcting or cancelling it, and asking for a person (the request is filed as a
question item, so an official sees it).

The form:
- ``feedback_text`` is taken from the opening message when it already says what is wrong
  ("đường vào bản Tả Van sạt lở 2 tháng chưa ai dọn"), not when it only asks to complain
  (``vietnamese.has_content``).
- Before asking ``policy_citation``, the passages search finds for the text are offered as
  buttons (``utter_policy_candidates``); a tap, a number, the citation or free words all work.
- ``phone`` is asked only after explicit consent; without it the slot is ``(bỏ qua)``.
- When everything is there, ``submission_key`` gets a new idempotency key for this summary.

Texts are never written here: every message is a response of bot/domain/responses.yml.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import REQUESTED_SLOT, FormValidationAction
from rasa_sdk.types import DomainDict

from actions import answer
from actions.api_client import ApiError, run
from actions.conversation import (
    SKIPPED,
    latest_intent,
    latest_text,
    latest_user_time,
    reset_feedback,
    value,
)
from actions.submission import (
    after_submission,
    key,
    kick_outbox,
    new_submission_key,
    origin,
    services,
    submit,
)
from vietnamese import fold, has_content

log = logging.getLogger(__name__)

MIN_WORDS, MIN_CHARS, MAX_CHARS = 3, 10, 5000
PHONE = re.compile(r"^0\d{9,10}$")


def normalize_phone(text: str) -> str | None:
    digits = re.sub(r"[\s.\-()]", "", text or "")
    if digits.startswith("+84"):
        digits = "0" + digits[3:]
    elif digits.startswith("84") and len(digits) in (11, 12):
        digits = "0" + digits[2:]
    return digits if PHONE.match(digits) else None


class ValidateFeedbackForm(FormValidationAction):
    def name(self) -> str:
        return "validate_feedback_form"

    async def required_slots(self, domain_slots: list[str], dispatcher: CollectingDispatcher,
                             tracker: Tracker, domain: DomainDict) -> list[str]:
        if tracker.get_slot("phone_consent") is True:
            return list(domain_slots)
        return [s for s in domain_slots if s != "phone"]

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> list[dict[str, Any]]:
        """Extract, validate, then choose the next slot ourselves (offering policies first)."""
        kick_outbox()
        extracted = await self.get_extraction_events(dispatcher, tracker, domain)
        tracker.add_slots(extracted)
        events = await self.get_validation_events(dispatcher, tracker, domain)
        tracker.add_slots(events)
        required = await self.required_slots(self.domain_slots(domain), dispatcher, tracker,
                                              domain)
        following = next((s for s in required if tracker.get_slot(s) is None), None)
        if following == "policy_citation" and tracker.get_slot("citation_candidates") is None:
            candidates = await self._offer_policies(dispatcher, tracker)
            events.append(SlotSet("citation_candidates", candidates))
        if following is None:
            events.append(SlotSet("submission_key",
                                  new_submission_key(tracker.get_slot("feedback_kind"))))
        events.append(SlotSet(REQUESTED_SLOT, following))
        return events

    async def _offer_policies(self, dispatcher: CollectingDispatcher,
                              tracker: Tracker) -> list[dict]:
        text = value(tracker, "feedback_text")
        if not text:
            return []
        client = services()[0]
        try:
            result = await run(client.search, text, 3)
        except ApiError as exc:
            log.warning("no policy candidates (search unavailable): %s", exc)
            return []
        candidates, buttons = [], []
        for hit in answer.cited_hits(result.get("hits") or [], confident=False):
            ref = answer.citation_ref(hit)
            candidates.append({k: ref[k] for k in ("law_id", "article_id", "citation")})
            title = answer.short_title(hit, 50)
            buttons.append({"title": ref["citation"] + (f" – {title}" if title else ""),
                            "payload": ref["citation"]})
        if buttons:
            dispatcher.utter_message(response="utter_policy_candidates", buttons=buttons)
        return candidates

    # --- extraction: the opening message as the content ------------------------------------
    async def extract_feedback_text(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                                    domain: DomainDict) -> dict[str, Any]:
        if tracker.get_slot(REQUESTED_SLOT) is not None or tracker.get_slot("feedback_text"):
            return {}
        if latest_intent(tracker) not in ("complain", "propose"):
            return {}
        message = latest_text(tracker)
        if message.startswith("/") or not has_content(message):
            return {}
        return {"feedback_text": message}

    # --- validation ------------------------------------------------------------------------
    def validate_feedback_text(self, slot_value: Any, dispatcher: CollectingDispatcher,
                               tracker: Tracker, domain: DomainDict) -> dict[str, Any]:
        text = re.sub(r"[ \t]+", " ", str(slot_value or "")).strip()
        if text.startswith("/") or len(text) < MIN_CHARS or len(text.split()) < MIN_WORDS:
            dispatcher.utter_message(response="utter_feedback_text_too_short")
            return {"feedback_text": None}
        return {"feedback_text": text[:MAX_CHARS]}

    def validate_location(self, slot_value: Any, dispatcher: CollectingDispatcher,
                          tracker: Tracker, domain: DomainDict) -> dict[str, Any]:
        text = " ".join(str(slot_value or "").split())
        if not text or text.startswith("/"):
            return {"location": SKIPPED}
        return {"location": text[:200]}

    def validate_policy_citation(self, slot_value: Any, dispatcher: CollectingDispatcher,
                                 tracker: Tracker, domain: DomainDict) -> dict[str, Any]:
        text = " ".join(str(slot_value or "").split())
        if not text or text == SKIPPED or text.startswith("/"):
            return {"policy_citation": SKIPPED, "cited_articles": []}
        candidates = tracker.get_slot("citation_candidates") or []
        options = candidates + (tracker.get_slot("cited_articles") or [])
        chosen = None
        if text.isdigit() and 1 <= int(text) <= len(candidates):
            chosen = candidates[int(text) - 1]
        else:
            folded = fold(text)
            chosen = next((o for o in options if fold(o.get("citation", "")) == folded),
                          None)
        if chosen is None:
            return {"policy_citation": text[:200], "cited_articles": []}
        return {"policy_citation": chosen["citation"],
                "cited_articles": [{"law_id": chosen["law_id"],
                                    "article_id": chosen["article_id"],
                                    "citation": chosen["citation"]}]}

    def validate_phone_consent(self, slot_value: Any, dispatcher: CollectingDispatcher,
                               tracker: Tracker, domain: DomainDict) -> dict[str, Any]:
        if slot_value is True:
            return {"phone_consent": True}
        return {"phone_consent": False, "phone": SKIPPED}

    def validate_phone(self, slot_value: Any, dispatcher: CollectingDispatcher,
                       tracker: Tracker, domain: DomainDict) -> dict[str, Any]:
        if slot_value == SKIPPED:
            return {"phone": SKIPPED}
        phone = normalize_phone(str(slot_value or ""))
        if phone is None:
            dispatcher.utter_message(response="utter_invalid_phone")
            return {"phone": None}
        return {"phone": phone}


class ActionSubmitFeedback(Action):
    def name(self) -> str:
        return "action_submit_feedback"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[dict[str, Any]]:
        kick_outbox()
        text = value(tracker, "feedback_text")
        if not text:  # nothing to send (the slots were cleared): start again
            dispatcher.utter_message(response="utter_ask_what_to_do")
            return reset_feedback()
        kind = value(tracker, "feedback_kind") or "complaint"
        cited = tracker.get_slot("cited_articles") or []
        policy = value(tracker, "policy_citation")
        if policy and not cited:  # the citizen named it in their own words
            text = f"{text}\n(Quy định liên quan, theo người dân: {policy})"
        payload: dict[str, Any] = {"kind": kind, "text": text[:5000], **origin(tracker, cited)}
        location = value(tracker, "location")
        if location:
            payload["location"] = location[:200]
        phone = value(tracker, "phone")
        if tracker.get_slot("phone_consent") is True and phone:
            payload["contact"] = {"phone": phone, "consent": True}
        k = value(tracker, "submission_key") or key(kind, tracker.sender_id, text,
                                                    latest_user_time(tracker))
        entry = await submit(k, payload, kind=kind)
        events = after_submission(dispatcher, entry, "utter_feedback_submitted")
        return reset_feedback() + events


class ActionResetFeedback(Action):
    """Cancel ("Hủy") empties the form; a correction ("Sửa" and a field) empties only that
    field, so the form asks it again and the next summary gets a new idempotency key."""

    def name(self) -> str:
        return "action_reset_feedback"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[dict[str, Any]]:
        field = tracker.get_slot("edit_field")
        if latest_intent(tracker) == "choose_edit_field" and field:
            cleared = {
                "feedback_text": ["feedback_text"],
                "location": ["location"],
                "policy_citation": ["policy_citation", "cited_articles", "citation_candidates"],
                "phone": ["phone", "phone_consent"],
            }.get(field, [field])
            return [SlotSet(s, None) for s in cleared] + [
                SlotSet("edit_field", None), SlotSet("submission_key", None),
                SlotSet("requested_slot", None)]
        return reset_feedback()


class ActionHumanHandoff(Action):
    def name(self) -> str:
        return "action_human_handoff"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[dict[str, Any]]:
        kick_outbox()
        message = latest_text(tracker)
        if message.startswith("/"):  # a button, not words
            message = ""
        text = "Người dân đề nghị được trao đổi trực tiếp với cán bộ qua trợ lý ảo."
        if message:
            text += f"\nTin nhắn: {message}"
        question = value(tracker, "last_question")
        if question:
            text += f"\nCâu hỏi gần nhất: {question}"
        payload = {"kind": "question", "text": text,
                   **origin(tracker, tracker.get_slot("last_citations"))}
        k = key("handoff", tracker.sender_id, message, latest_user_time(tracker))
        entry = await submit(k, payload, kind="question")
        if entry.status == "pending":
            dispatcher.utter_message(response="utter_api_down_saved",
                                     tracking_code=entry.tracking_code)
            dispatcher.utter_message(response="utter_handoff_hours")
            return [SlotSet("tracking_code", entry.tracking_code)]
        if entry.status == "failed":
            dispatcher.utter_message(response="utter_handoff_hours")
            return []
        dispatcher.utter_message(response="utter_handoff", tracking_code=entry.tracking_code)
        return [SlotSet("tracking_code", entry.tracking_code)]
