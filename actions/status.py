"""Tracking: "tra cứu PA-7K3M9QX2" (or the code anywhere in a sentence) answers the item's
status from the API, or, while the API is down or has not received it yet, whether it waits in
this server's outbox."""

from __future__ import annotations

import logging
import re
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.api_client import ApiError, run
from actions.conversation import latest_text, value
from actions.submission import SOME_DEPARTMENT, services

log = logging.getLogger(__name__)

STATUSES = {"new", "routed", "in_progress", "answered", "closed", "rejected", "merged"}
CODE_IN_TEXT = re.compile(r"\b(PA|KN|CH)[\s_\-–.]*([0-9A-Z]{6,10})\b", re.IGNORECASE)


def tracking_code_in(text: str) -> str | None:
    """A tracking code written anywhere in a message ("pa 7k3m9qx2", "KN-7K3M9QX2")."""
    match = CODE_IN_TEXT.search(text or "")
    if not match:
        return None
    return f"{match.group(1).upper()}-{match.group(2).upper()}"


class ActionCheckStatus(Action):
    def name(self) -> str:
        return "action_check_status"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[dict[str, Any]]:
        client, outbox = services()
        outbox.kick()
        code = (tracking_code_in(latest_text(tracker))
                or tracking_code_in(next(tracker.get_latest_entity_values("tracking_code"), ""))
                or tracking_code_in(value(tracker, "tracking_code") or ""))
        if not code:
            dispatcher.utter_message(response="utter_ask_tracking_code")
            return []
        events = [SlotSet("tracking_code", code)]
        try:
            status = await run(client.status, code)
        except ApiError as exc:
            log.warning("status unavailable: %s", exc)
            queued = await run(outbox.find_code, code)
            dispatcher.utter_message(
                response="utter_status_queued" if queued and queued.status == "pending"
                else "utter_status_unavailable", tracking_code=code)
            return events
        if status is None:
            queued = await run(outbox.find_code, code)
            if queued is not None and queued.status == "pending":
                dispatcher.utter_message(response="utter_status_queued", tracking_code=code)
            else:
                dispatcher.utter_message(response="utter_status_not_found", tracking_code=code)
            return events
        state = status.get("status")
        dispatcher.utter_message(
            response=f"utter_status_{state}" if state in STATUSES else "utter_status_new",
            tracking_code=status.get("tracking_code") or code,
            department_name=status.get("department_name") or SOME_DEPARTMENT,
        )
        if status.get("public_reply"):
            dispatcher.utter_message(response="utter_status_reply",
                                     public_reply=status["public_reply"])
        return events
