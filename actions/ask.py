"""Asking: an answer quoted from the retrieved passages with citations, or an honest "not sure"
with the closest passages and the offer to forward; forwarding the question; votes on an
answer; a proposal about the article an answer cited.

Texts are never written here: every message is a response of bot/domain/responses.yml, sent by
name with its values.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import answer
from actions.api_client import ApiError, run
from actions.conversation import latest_intent, latest_text, latest_user_time, reset_feedback, value
from actions.submission import (
    VOTES_PATH,
    after_submission,
    key,
    kick_outbox,
    origin,
    services,
    submit,
)

log = logging.getLogger(__name__)


def public_url() -> str:
    """The base of the "read more" links (``CAUNOI_PUBLIC_URL``)."""
    return os.environ.get("CAUNOI_PUBLIC_URL") or "http://127.0.0.1:8000"


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
        refs = [answer.citation_ref(h, related=not confident) for h in cited]
        base = public_url()
        url = {id(h): answer.read_more_url(base, h["law_id"], str(h["article_id"])) for h in cited}
        if confident:
            dispatcher.utter_message(response="utter_answer_intro")
            more = []
            for hit, quote in answer.quoted(cited):
                if quote:
                    dispatcher.utter_message(
                        response="utter_answer_passage", citation=answer.cited_as(hit),
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
                    response="utter_related_passage", citation=answer.cited_as(hit),
                    excerpt=answer.excerpt(hit["text"], queries, limit=250), url=url[id(hit)])
        else:
            dispatcher.utter_message(response="utter_no_passage")
        for note in answer.validity_notes(cited):
            dispatcher.utter_message(response="utter_validity_note", note=note)
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
        kick_outbox()
        question = value(tracker, "last_question")
        if not question:
            dispatcher.utter_message(response="utter_ask_question")
            return []
        payload = {"kind": "question", "text": question,
                   **origin(tracker, tracker.get_slot("last_citations"))}
        k = key("question", tracker.sender_id, question, latest_user_time(tracker))
        entry = await submit(k, payload, kind="question")
        return after_submission(dispatcher, entry, "utter_question_forwarded")


class ActionRecordVote(Action):
    def name(self) -> str:
        return "action_record_vote"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[dict[str, Any]]:
        kick_outbox()
        question = value(tracker, "last_question")
        if not question:
            dispatcher.utter_message(response="utter_no_answer_to_vote")
            return []
        helpful = latest_intent(tracker) in ("vote_helpful", "affirm")
        answered_at = next((e.get("timestamp") for e in reversed(tracker.events)
                            if e.get("event") == "action"
                            and e.get("name") == "action_answer_question"), "")
        payload = {"question": question[:1000], "helpful": helpful,
                   **origin(tracker, tracker.get_slot("last_citations"))}
        # one vote per answer: a second tap on the same answer is the same key (kept: the first)
        k = key("vote", tracker.sender_id, question, answered_at)
        await submit(k, payload, kind=None, path=VOTES_PATH)
        dispatcher.utter_message(response="utter_vote_thanks" if helpful else "utter_vote_sorry")
        return []


class ActionStartProposalFromAnswer(Action):
    def name(self) -> str:
        return "action_start_proposal_from_answer"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[dict[str, Any]]:
        kick_outbox()
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
