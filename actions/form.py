"""validate_feedback_form: what a department needs from a complaint or a proposal.

- ``feedback_text`` is taken from the opening message when it already says what is wrong
  ("đường vào bản Tả Van sạt lở 2 tháng chưa ai dọn"), not when it only asks to complain.
- Before asking ``policy_citation``, the passages search finds for the text are offered as
  buttons (``utter_policy_candidates``); a tap, a number, the citation or free words all work.
- ``phone`` is asked only after explicit consent; without it the slot is ``(bỏ qua)``.
- When everything is there, ``submission_key`` gets a new idempotency key for this summary.
"""

from __future__ import annotations

import logging
import re
import uuid
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import REQUESTED_SLOT, FormValidationAction
from rasa_sdk.types import DomainDict

from actions import answer
from actions.api_client import ApiError, run
from actions.common import (
    SKIPPED,
    latest_intent,
    latest_text,
    services,
    value,
)
from vietnamese import fold, fold_keep_length

log = logging.getLogger(__name__)

MIN_WORDS, MIN_CHARS, MAX_CHARS = 3, 10, 5000
CONTENT_WORDS = 4  # an opening message with this many words beyond "tôi muốn phản ánh" is content
# "(xin chào,) cho tôi gửi một phản ánh về việc": the lead-in of an opening message (folded)
LEAD_IN = re.compile(
    r"^\W*(?:(?:xin\s+)?chao\s+\w+\W+)?(?:(?:cho|cho phep)\s+)?"
    r"(?:toi|tui|em|e|minh|chau|t|bac|co|chu|anh|chi)?\s*"
    r"(?:(?:muon|can|xin|dang|se|co|duoc|gui|lam|viet|nop|them)\s+)*"
    r"(?:(?:1|mot|cai)\s+)*"
    r"(?:phan anh|kien nghi|de xuat|gop y|khieu nai|to cao|y kien|bao cao|pa|kn)?"
    r"(?:\s+(?:ve|viec|la|rang|voi|den|len|cho|nay|sau))*\W*"
)
PHONE = re.compile(r"^0\d{9,10}$")


def has_content(message: str) -> bool:
    """Does an opening message say what the complaint or proposal is about?"""
    folded = fold_keep_length(message.strip())
    rest = folded[LEAD_IN.match(folded).end():]
    return len([w for w in re.findall(r"\w+", rest) if len(w) > 1]) >= CONTENT_WORDS


def normalize_phone(text: str) -> str | None:
    digits = re.sub(r"[\s.\-()]", "", text or "")
    if digits.startswith("+84"):
        digits = "0" + digits[3:]
    elif digits.startswith("84") and len(digits) in (11, 12):
        digits = "0" + digits[2:]
    return digits if PHONE.match(digits) else None


def new_submission_key(kind: str | None) -> str:
    return f"bot-{kind or 'complaint'}-{uuid.uuid4().hex}"


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
        services()[1].kick()
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
