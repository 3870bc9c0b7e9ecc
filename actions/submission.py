"""What every submission shares: this process's API client and outbox, idempotency keys, the
payload's common part, reserving and delivering through the outbox, and the reply afterwards.

A submission (complaint, proposal, forwarded question, handoff request, vote) is written to the
outbox first, under its idempotency key, and only then sent (``actions/outbox.py``): the
citizen's tracking code is reserved before the API is asked, so it holds whether the API is up
or not. Each action also nudges the outbox (``kick_outbox``), so anything waiting for the API is
retried as soon as someone talks to the bot.
"""

from __future__ import annotations

import hashlib
import os
import threading
import uuid
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.api_client import ApiClient, run
from actions.conversation import channel, sender
from actions.outbox import Entry, Outbox

FEEDBACK_PATH = "/api/v1/feedback"
VOTES_PATH = "/api/v1/answers/votes"
WAIT_FOR_ROUTING = 3.0  # seconds the API may wait to name the department in its answer
SOME_DEPARTMENT = "cơ quan phụ trách"  # when the API has not named one (yet)

_lock = threading.Lock()
_services: tuple[ApiClient, Outbox] | None = None


def services() -> tuple[ApiClient, Outbox]:
    """This process's API client and outbox, made at the first call; the outbox's delivery
    thread starts with them (``python -m actions`` calls this when the server starts)."""
    global _services
    with _lock:
        if _services is None:
            client = ApiClient()
            outbox = Outbox(os.environ.get("CAUNOI_ACTIONS_OUTBOX"), client)
            outbox.start()
            _services = (client, outbox)
        return _services


def kick_outbox() -> None:
    """Retry what waits in the outbox now (at most every few seconds), not at its next turn."""
    services()[1].kick()


def key(prefix: str, *parts: Any) -> str:
    """An idempotency key the API accepts ([A-Za-z0-9._:-], 8-200 characters), the same for
    the same parts: a repeated call for the same message is the same submission."""
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode("utf-8")).hexdigest()
    return f"bot-{prefix}-{digest[:32]}"


def new_submission_key(kind: str | None) -> str:
    """A fresh idempotency key, for one summary of the feedback form."""
    return f"bot-{kind or 'complaint'}-{uuid.uuid4().hex}"


def citation_refs(citations: list[dict] | None) -> list[dict]:
    """What the API keeps of the articles a message was about; ``related`` marks those shown
    only as "có thể liên quan", which the router must not take as the question's topic."""
    return [{"law_id": c["law_id"], "article_id": str(c["article_id"]),
             **({"related": True} if c.get("related") else {})}
            for c in citations or [] if c.get("law_id") and c.get("article_id")]


def origin(tracker: Tracker, citations: list[dict] | None) -> dict[str, Any]:
    """The part of every payload that says who sent it, over which channel, about what."""
    return {"channel": channel(tracker), "sender_id": sender(tracker),
            "citations": citation_refs(citations)}


async def submit(idempotency_key: str, payload: dict, *, kind: str | None,
                 path: str = FEEDBACK_PATH) -> Entry:
    """Record a submission in the outbox, then try to deliver it at once.

    Feedback (``kind`` given) gets a reserved tracking code, and the API may take up to
    ``WAIT_FOR_ROUTING`` seconds more so that its answer can name the department.
    """
    client, outbox = services()
    entry = await run(outbox.reserve, idempotency_key, path, payload, kind)
    if entry.status == "pending":
        wait = WAIT_FOR_ROUTING if kind else 0.0
        entry = await run(lambda: outbox.deliver(
            idempotency_key, timeout=client.timeout + wait,
            params={"wait": WAIT_FOR_ROUTING} if kind else None))
    return entry


def department_name(entry: Entry) -> str:
    return (entry.response or {}).get("department_name") or SOME_DEPARTMENT


def after_submission(dispatcher: CollectingDispatcher, entry: Entry,
                     done: str) -> list[dict[str, Any]]:
    """Tell the citizen what happened to a submission; the tracking code goes in a slot."""
    if entry.status == "failed":
        dispatcher.utter_message(response="utter_submit_failed")
        return []
    if entry.status == "delivered":
        dispatcher.utter_message(response=done, tracking_code=entry.tracking_code,
                                 department_name=department_name(entry))
        procedure = (entry.response or {}).get("formal_procedure")
        if procedure and procedure.get("text"):
            dispatcher.utter_message(response="utter_formal_procedure",
                                     explanation=procedure["text"])
    elif "HTTP 429" in (entry.last_error or ""):
        # Over the API's limit for this sender (e.g. the daily cap): kept, sent when it allows.
        dispatcher.utter_message(response="utter_submission_deferred",
                                 tracking_code=entry.tracking_code)
    else:
        dispatcher.utter_message(response="utter_api_down_saved",
                                 tracking_code=entry.tracking_code)
    return [SlotSet("tracking_code", entry.tracking_code)]
