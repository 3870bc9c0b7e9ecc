"""The custom actions of the assistant (names fixed in bot/domain/actions.yml).

Texts are never written here: every message is a response of bot/domain/responses.yml, sent by
name with its values. Each action also nudges the outbox (``kick``), so anything waiting for
the API is retried as soon as someone talks to the bot.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import answer
from actions.api_client import ApiError, run
from actions.common import (
    WAIT_FOR_ROUTING,
    channel,
    key,
    latest_intent,
    latest_text,
    latest_user_time,
    public_url,
    reset_feedback,
    sender,
    services,
    tracking_code_in,
    value,
)
from actions.form import has_content
from actions.outbox import Entry
from vietnamese import fold_keep_length

log = logging.getLogger(__name__)

FEEDBACK_PATH = "/api/v1/feedback"
VOTES_PATH = "/api/v1/answers/votes"
SOME_DEPARTMENT = "cơ quan phụ trách"
STATUSES = {"new", "routed", "in_progress", "answered", "closed", "rejected", "merged"}
# "Tôi muốn phản ánh: <what is wrong>" is never a question, whatever the classifier said.
EXPLICIT_FEEDBACK = re.compile(
    r"^\W*(?:(?:toi|tui|em|e|minh|chau|t)\s+)?(?:(?:muon|xin|can|dang|gui)\s+)*"
    r"(phan anh|kien nghi|de xuat)\b")

services()  # the outbox's delivery thread starts with the action server, not at the first chat


async def _submit(kind: str, idempotency_key: str, payload: dict) -> Entry:
    """Reserve a tracking code in the outbox, then try to deliver at once."""
    client, outbox = services()
    entry = await run(outbox.reserve, idempotency_key, FEEDBACK_PATH, payload, kind)
    if entry.status == "pending":
        entry = await run(lambda: outbox.deliver(
            idempotency_key, timeout=client.timeout + WAIT_FOR_ROUTING,
            params={"wait": WAIT_FOR_ROUTING}))
    return entry


def _department(entry: Entry) -> str:
    return (entry.response or {}).get("department_name") or SOME_DEPARTMENT


def _citation_refs(citations: list[dict] | None) -> list[dict]:
    return [{"law_id": c["law_id"], "article_id": str(c["article_id"])}
            for c in citations or [] if c.get("law_id") and c.get("article_id")]


class ActionAnswerQuestion(Action):
    def name(self) -> str:
        return "action_answer_question"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[dict[str, Any]]:
        client, outbox = services()
        outbox.kick()
        question = latest_text(tracker)
        if not question or question.startswith("/"):  # a button, not a question
            dispatcher.utter_message(response="utter_ask_question")
            return []
        explicit = EXPLICIT_FEEDBACK.match(fold_keep_length(question))
        if explicit and has_content(question):
            kind = "complaint" if explicit.group(1) == "phan anh" else "proposal"
            return [SlotSet("feedback_kind", kind), SlotSet("feedback_text", question),
                    FollowupAction("feedback_form")]
        try:
            result = await run(client.search, question, 5)
        except ApiError as exc:
            log.warning("search unavailable: %s", exc)
            dispatcher.utter_message(response="utter_search_unavailable")
            dispatcher.utter_message(json_message={"type": "answer", "citations": [],
                                                   "confident": False})
            dispatcher.utter_message(response="utter_offer_forward")
            return [SlotSet("answer_confident", False), SlotSet("last_question", question),
                    SlotSet("last_citations", [])]
        hits = result.get("hits") or []
        confident = bool(result.get("confident")) and bool(hits)
        queries = [question, result.get("interpreted") or ""]
        cited = answer.cited_hits(hits, confident)
        refs = [answer.citation_ref(h) for h in cited]
        base = public_url()
        url = {id(h): answer.read_more_url(base, h["law_id"], str(h["article_id"])) for h in cited}
        if confident:
            dispatcher.utter_message(response="utter_answer_intro")
            more = []
            for hit, quote in answer.quoted(cited):
                if quote:
                    dispatcher.utter_message(
                        response="utter_answer_passage", citation=hit["citation"],
                        excerpt=answer.excerpt(hit["text"], queries, limit=400), url=url[id(hit)])
                else:
                    title = answer.short_title(hit)
                    more.append(f"• {hit['citation']}" + (f" ({title})" if title else "")
                                + f": {url[id(hit)]}")
            if more:
                dispatcher.utter_message(response="utter_answer_more", items="\n".join(more))
        elif cited:
            dispatcher.utter_message(response="utter_not_confident")
            for hit in cited:
                dispatcher.utter_message(
                    response="utter_related_passage", citation=hit["citation"],
                    excerpt=answer.excerpt(hit["text"], queries, limit=250), url=url[id(hit)])
        else:
            dispatcher.utter_message(response="utter_no_passage")
        payload = [dict(ref, url=url[id(h)]) for ref, h in zip(refs, cited)]
        dispatcher.utter_message(json_message={"type": "answer", "citations": payload,
                                               "confident": confident})
        dispatcher.utter_message(response="utter_ask_helpful" if confident
                                 else "utter_offer_forward")
        return [SlotSet("answer_confident", confident), SlotSet("last_question", question),
                SlotSet("last_citations", refs)]


class ActionForwardQuestion(Action):
    def name(self) -> str:
        return "action_forward_question"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[dict[str, Any]]:
        services()[1].kick()
        question = value(tracker, "last_question")
        if not question:
            dispatcher.utter_message(response="utter_ask_question")
            return []
        payload = {
            "kind": "question", "text": question, "channel": channel(tracker),
            "sender_id": sender(tracker),
            "citations": _citation_refs(tracker.get_slot("last_citations")),
        }
        k = key("question", tracker.sender_id, question, latest_user_time(tracker))
        entry = await _submit("question", k, payload)
        return _after_submission(dispatcher, entry, "utter_question_forwarded")


def _after_submission(dispatcher: CollectingDispatcher, entry: Entry,
                      done: str) -> list[dict[str, Any]]:
    """Tell the citizen what happened to a submission; the tracking code goes in a slot."""
    if entry.status == "failed":
        dispatcher.utter_message(response="utter_submit_failed")
        return []
    if entry.status == "delivered":
        dispatcher.utter_message(response=done, tracking_code=entry.tracking_code,
                                 department_name=_department(entry))
        procedure = (entry.response or {}).get("formal_procedure")
        if procedure and procedure.get("text"):
            dispatcher.utter_message(response="utter_formal_procedure",
                                     explanation=procedure["text"])
    else:
        dispatcher.utter_message(response="utter_api_down_saved",
                                 tracking_code=entry.tracking_code)
    return [SlotSet("tracking_code", entry.tracking_code)]


class ActionRecordVote(Action):
    def name(self) -> str:
        return "action_record_vote"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[dict[str, Any]]:
        client, outbox = services()
        outbox.kick()
        question = value(tracker, "last_question")
        if not question:
            dispatcher.utter_message(response="utter_no_answer_to_vote")
            return []
        helpful = latest_intent(tracker) in ("vote_helpful", "affirm")
        answered_at = next((e.get("timestamp") for e in reversed(tracker.events)
                            if e.get("event") == "action"
                            and e.get("name") == "action_answer_question"), "")
        payload = {
            "question": question[:1000], "helpful": helpful, "channel": channel(tracker),
            "sender_id": sender(tracker),
            "citations": _citation_refs(tracker.get_slot("last_citations")),
        }
        # one vote per answer: a second tap on the same answer is the same key (kept: the first)
        k = key("vote", tracker.sender_id, question, answered_at)
        entry = await run(outbox.reserve, k, VOTES_PATH, payload)
        if entry.status == "pending":
            await run(lambda: outbox.deliver(k, timeout=client.timeout))
        dispatcher.utter_message(response="utter_vote_thanks" if helpful else "utter_vote_sorry")
        return []


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


class ActionSubmitFeedback(Action):
    def name(self) -> str:
        return "action_submit_feedback"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[dict[str, Any]]:
        services()[1].kick()
        text = value(tracker, "feedback_text")
        if not text:  # nothing to send (the slots were cleared): start again
            dispatcher.utter_message(response="utter_ask_what_to_do")
            return reset_feedback()
        kind = value(tracker, "feedback_kind") or "complaint"
        cited = tracker.get_slot("cited_articles") or []
        policy = value(tracker, "policy_citation")
        if policy and not cited:  # the citizen named it in their own words
            text = f"{text}\n(Quy định liên quan, theo người dân: {policy})"
        payload: dict[str, Any] = {
            "kind": kind, "text": text[:5000], "channel": channel(tracker),
            "sender_id": sender(tracker), "citations": _citation_refs(cited),
        }
        location = value(tracker, "location")
        if location:
            payload["location"] = location[:200]
        phone = value(tracker, "phone")
        if tracker.get_slot("phone_consent") is True and phone:
            payload["contact"] = {"phone": phone, "consent": True}
        k = value(tracker, "submission_key") or key(kind, tracker.sender_id, text,
                                                    latest_user_time(tracker))
        entry = await _submit(kind, k, payload)
        events = _after_submission(dispatcher, entry, "utter_feedback_submitted")
        return reset_feedback() + events


class ActionStartProposalFromAnswer(Action):
    def name(self) -> str:
        return "action_start_proposal_from_answer"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[dict[str, Any]]:
        services()[1].kick()
        events = reset_feedback() + [SlotSet("feedback_kind", "proposal")]
        cited = tracker.get_slot("last_citations") or []
        if cited:
            first = cited[0]
            citation = first.get("citation") or f"Điều {first['article_id']} {first['law_id']}"
            dispatcher.utter_message(response="utter_proposal_from_answer",
                                     policy_citation=citation)
            events += [
                SlotSet("policy_citation", citation),
                SlotSet("cited_articles", [{"law_id": first["law_id"],
                                            "article_id": str(first["article_id"]),
                                            "citation": citation}]),
            ]
        return events


class ActionHumanHandoff(Action):
    def name(self) -> str:
        return "action_human_handoff"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[dict[str, Any]]:
        services()[1].kick()
        message = latest_text(tracker)
        if message.startswith("/"):  # a button, not words
            message = ""
        text = "Người dân đề nghị được trao đổi trực tiếp với cán bộ qua trợ lý ảo."
        if message:
            text += f"\nTin nhắn: {message}"
        question = value(tracker, "last_question")
        if question:
            text += f"\nCâu hỏi gần nhất: {question}"
        payload = {"kind": "question", "text": text, "channel": channel(tracker),
                   "sender_id": sender(tracker),
                   "citations": _citation_refs(tracker.get_slot("last_citations"))}
        k = key("handoff", tracker.sender_id, message, latest_user_time(tracker))
        entry = await _submit("question", k, payload)
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


class ActionResetFeedback(Action):
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

