"""The action server end to end: the real rasa-sdk server (Python 3.10) calling the real API
(SQLite, real search index over three laws and a local draft policy) over HTTP, driven with the
requests Rasa 3.6.21 sends to /webhook."""

from __future__ import annotations

import re
import sqlite3
import urllib.parse
import uuid

import pytest

from tests.actions.servers import Conversation, http, names

CODE = re.compile(r"^(PA|KN|CH)-[23456789ABCDEFGHJKLMNPQRSTUVWXYZ]{8}$")
CONFIDENT_Q = "ho ngheo lam chuong trau duoc ho tro bao nhieu"  # no diacritics, as typed
UNSURE_Q = "thủ tục cấp hộ chiếu mất bao lâu"  # no passport law in this index
COMPLAINT = "công an xã chậm đăng ký tạm trú cho con tôi 2 tháng rồi chưa xong"


def chat(actions, domain, channel: str = "rest") -> Conversation:
    return Conversation(actions, domain, sender=f"test-{uuid.uuid4().hex[:12]}", channel=channel)


def search(api, q: str, k: int = 5) -> dict:
    status, body = http("GET", f"{api.base}/api/v1/search?" + urllib.parse.urlencode({"q": q,
                                                                                       "k": k}))
    assert status == 200, body
    return body


def by_name(responses: list[dict], name: str) -> list[dict]:
    return [r for r in responses if r.get("response") == name]


def custom(responses: list[dict]) -> dict:
    found = [r["custom"] for r in responses if r.get("custom")]
    assert len(found) == 1, responses
    return found[0]


def item(api, code: str) -> dict:
    status, body = http("GET", f"{api.base}/api/v1/feedback/{code}", token=api.tokens["admin"])
    assert status == 200, body
    return body


def items_with_code(api, code: str) -> int:
    with sqlite3.connect(api.db_path) as db:
        return db.execute("SELECT count(*) FROM feedback_item WHERE tracking_code = ?",
                          (code,)).fetchone()[0]


def test_every_custom_action_of_the_domain_is_registered(actions, domain):
    status, body = http("GET", actions.base + "/actions")
    assert status == 200, body
    assert set(domain["actions"]) <= {a["name"] for a in body}


# --- asking -----------------------------------------------------------------------------------
def test_confident_answer_quotes_retrieved_text_and_cites_at_most_three(api, actions, domain):
    talk = chat(actions, domain).say(CONFIDENT_Q, "ask_policy")
    responses = talk.run("action_answer_question")

    assert names(responses)[0] == "utter_answer_intro"
    assert names(responses)[-1] == "utter_ask_helpful"
    payload = custom(responses)
    assert payload["type"] == "answer" and payload["confident"] is True
    assert 1 <= len(payload["citations"]) <= 3
    first = payload["citations"][0]
    assert (first["law_id"], first["article_id"]) == ("qd-chuong-trai", "1")
    assert {"law_id", "article_id", "title", "score"} <= set(first)
    assert first["title"] == "Đối tượng hỗ trợ"

    passages = by_name(responses, "utter_answer_passage")
    assert passages and passages[0]["citation"].startswith("Điều 1 ")
    # the answer is retrieved text only: every line of the excerpt is in a cited passage
    hits = search(api, CONFIDENT_Q)["hits"]
    retrieved = {(h["law_id"], h["article_id"]): h["text"] for h in hits}
    cited_text = "\n".join(retrieved[(c["law_id"], c["article_id"])]
                           for c in payload["citations"])
    for passage in passages:
        for line in passage["excerpt"].split("\n"):
            assert line.removesuffix(" …") in cited_text, line
    assert "5 triệu đồng" in passages[0]["excerpt"]
    # the local policy is a draft: its citation says so in one line, once
    assert [r["note"] for r in by_name(responses, "utter_validity_note")] == [
        "Quyết định hỗ trợ chuồng trại: Đây là dự thảo, chưa có hiệu lực."]
    assert first["status"] == "draft" and first["validity"] == "Đây là dự thảo, chưa có hiệu lực."
    assert passages[0]["url"] == "https://caunoi.example/van-ban/qd-chuong-trai/1"
    for c in payload["citations"]:
        assert c["url"].startswith("https://caunoi.example/van-ban/")

    assert talk.slots["answer_confident"] is True
    assert talk.slots["last_question"] == CONFIDENT_Q
    assert [c["article_id"] for c in talk.slots["last_citations"]] == [
        c["article_id"] for c in payload["citations"]]


def test_not_confident_says_so_shows_related_passages_and_forwards(api, actions, domain):
    talk = chat(actions, domain).say(UNSURE_Q, "ask_policy")
    responses = talk.run("action_answer_question")

    assert names(responses)[0] == "utter_not_confident"
    assert "utter_answer_passage" not in names(responses)
    related = by_name(responses, "utter_related_passage")
    assert 1 <= len(related) <= 3
    payload = custom(responses)
    assert payload["confident"] is False and len(payload["citations"]) == len(related)
    assert names(responses)[-1] == "utter_offer_forward"
    assert talk.slots["answer_confident"] is False

    talk.say("có", "affirm")
    responses = talk.run("action_forward_question")
    [forwarded] = by_name(responses, "utter_question_forwarded")
    code = forwarded["tracking_code"]
    assert CODE.match(code) and code.startswith("CH-")
    assert forwarded["department_name"]
    stored = item(api, code)
    assert stored["kind"] == "question" and stored["text"] == UNSURE_Q
    assert stored["channel"] == "web" and stored["sender_id"] == talk.sender
    # kept for the official, marked so that the router does not take them as the topic
    assert stored["citations"] == [{"law_id": c["law_id"], "article_id": c["article_id"],
                                    "related": True} for c in payload["citations"]]
    assert all(c["related"] for c in payload["citations"])
    assert talk.slots["tracking_code"] == code


def test_vote_is_stored_once_per_answer(api, actions, domain):
    talk = chat(actions, domain, channel="zalo").say(CONFIDENT_Q, "ask_policy")
    talk.run("action_answer_question")
    cited = talk.slots["last_citations"][0]

    def summary() -> dict:
        status, body = http("GET", f"{api.base}/api/v1/answers/votes/summary?limit=200",
                            token=api.tokens["admin"])
        assert status == 200, body
        return body

    before = summary()
    talk.say("/vote_helpful", "vote_helpful")
    assert names(talk.run("action_record_vote")) == ["utter_vote_thanks"]
    after = summary()
    assert after["total"] == before["total"] + 1
    assert after["helpful"] == before["helpful"] + 1
    [row] = [a for a in after["articles"]
             if (a["law_id"], a["article_id"]) == (cited["law_id"], cited["article_id"])]
    assert row["helpful"] >= 1

    # a second tap on the same answer changes nothing; a "no" is answered kindly
    talk.say("/vote_not_helpful", "vote_not_helpful")
    assert names(talk.run("action_record_vote")) == ["utter_vote_sorry"]
    assert summary()["total"] == after["total"]


def test_vote_without_an_answer(actions, domain):
    talk = chat(actions, domain).say("/vote_helpful", "vote_helpful")
    assert names(talk.run("action_record_vote")) == ["utter_no_answer_to_vote"]


# --- telling ----------------------------------------------------------------------------------
def test_complaint_in_one_message_offers_policies_and_submits_with_reserved_code(
        api, actions, domain):
    talk = chat(actions, domain).say(COMPLAINT, "complain").set(feedback_kind="complaint")
    assert talk.form() == []  # activation: the opening message is the content
    assert talk.slots["feedback_text"] == COMPLAINT
    assert talk.slots["requested_slot"] == "location"

    talk.say("thôn Lao Chải, xã Sa Pa", "give_location")
    responses = talk.form(location="thôn Lao Chải, xã Sa Pa")
    assert talk.slots["requested_slot"] == "policy_citation"
    [offer] = by_name(responses, "utter_policy_candidates")
    assert 1 <= len(offer["buttons"]) <= 3
    candidates = talk.slots["citation_candidates"]
    assert [b["payload"] for b in offer["buttons"]] == [c["citation"] for c in candidates]
    chosen = candidates[0]

    talk.say(chosen["citation"], "ask_policy")  # the button's payload comes back as text
    talk.form(policy_citation=chosen["citation"])
    assert talk.slots["cited_articles"][0]["law_id"] == chosen["law_id"]
    assert talk.slots["requested_slot"] == "phone_consent"

    talk.say("không", "deny")
    talk.form(phone_consent=False)
    assert talk.slots["phone"] == "(bỏ qua)"
    assert talk.slots["requested_slot"] is None
    key = talk.slots["submission_key"]
    assert key and key.startswith("bot-complaint-")

    talk.say("/affirm", "affirm")
    responses = talk.run("action_submit_feedback")
    [done] = by_name(responses, "utter_feedback_submitted")
    code = done["tracking_code"]
    assert CODE.match(code) and code.startswith("PA-")
    with sqlite3.connect(actions.outbox) as db:  # the code the outbox reserved before sending
        row = db.execute("SELECT tracking_code, status FROM submission"
                         " WHERE idempotency_key = ?", (key,)).fetchone()
    assert row == (code, "delivered")
    stored = item(api, code)
    assert stored["kind"] == "complaint" and stored["text"] == COMPLAINT
    assert stored["location"] == "thôn Lao Chải, xã Sa Pa"
    assert stored["citations"] == [{"law_id": chosen["law_id"],
                                    "article_id": chosen["article_id"]}]
    assert stored["contact"] is None and stored["channel"] == "web"
    assert talk.slots["feedback_text"] is None and talk.slots["tracking_code"] == code
    assert items_with_code(api, code) == 1


def test_proposal_over_several_turns_with_phone_consent_and_a_correction(api, actions, domain):
    talk = chat(actions, domain, channel="messenger")
    talk.say("tôi muốn kiến nghị", "propose").set(feedback_kind="proposal")
    talk.form()
    assert talk.slots["feedback_text"] is None  # "I want to propose" is not the proposal
    assert talk.slots["requested_slot"] == "feedback_text"

    talk.say("ok", "affirm")
    responses = talk.form(feedback_text="ok")
    assert "utter_feedback_text_too_short" in names(responses)
    assert talk.slots["requested_slot"] == "feedback_text"

    text = "Đề nghị cho phép đăng ký tạm trú trực tuyến cho bà con ở bản xa"
    talk.reply(text, "propose", feedback_text=text)
    talk.reply("bỏ qua", "skip", location="(bỏ qua)")
    talk.reply("2", "ask_policy", policy_citation="2")  # the second policy offered, by number
    second = talk.slots["citation_candidates"][1]
    assert talk.slots["policy_citation"] == second["citation"]
    talk.say("đồng ý", "affirm")
    talk.form(phone_consent=True)
    assert talk.slots["requested_slot"] == "phone"
    talk.say("123", "give_phone")
    responses = talk.form(phone="123")
    assert names(responses) == ["utter_invalid_phone"]
    assert talk.slots["requested_slot"] == "phone"
    talk.say("+84 912 345 678", "give_phone")
    talk.form(phone="+84 912 345 678")
    assert talk.slots["phone"] == "0912345678"
    first_key = talk.slots["submission_key"]

    # "Sửa" -> location: only that part is asked again, and the summary gets a new key
    talk.say('/choose_edit_field{"edit_field": "location"}', "choose_edit_field")
    talk.set(edit_field="location")
    talk.run("action_reset_feedback")
    assert talk.slots["location"] is None and talk.slots["feedback_text"] == text
    talk.form()
    assert talk.slots["requested_slot"] == "location"
    talk.say("bản Tả Van", "give_location")
    talk.form(location="bản Tả Van")
    assert talk.slots["requested_slot"] is None
    assert talk.slots["submission_key"] not in (None, first_key)

    talk.say("/affirm", "affirm")
    filled = {k: talk.slots[k] for k in ("feedback_kind", "feedback_text", "location",
                                          "phone_consent", "phone", "submission_key")}
    [done] = by_name(talk.run("action_submit_feedback"), "utter_feedback_submitted")
    stored = item(api, done["tracking_code"])
    assert done["tracking_code"].startswith("KN-")
    assert stored["kind"] == "proposal" and stored["channel"] == "messenger"
    assert stored["contact"] == {"name": None, "phone": "0912345678", "consent": True}
    assert stored["location"] == "bản Tả Van"

    # the same confirmation sent again (a retry of the same summary): same code, one item
    talk.set(**filled)
    [again] = by_name(talk.run("action_submit_feedback"), "utter_feedback_submitted")
    assert again["tracking_code"] == done["tracking_code"]
    assert items_with_code(api, done["tracking_code"]) == 1


def test_answer_to_proposal_keeps_the_cited_article(api, actions, domain):
    talk = chat(actions, domain).say(CONFIDENT_Q, "ask_policy")
    talk.run("action_answer_question")
    cited = talk.slots["last_citations"][0]
    talk.say("Tôi muốn góp ý về quy định này", "feedback_on_answer")
    responses = talk.run("action_start_proposal_from_answer")
    assert names(responses) == ["utter_proposal_from_answer"]
    assert talk.slots["feedback_kind"] == "proposal"
    assert talk.slots["policy_citation"] == cited["citation"]
    talk.form(policy_citation=cited["citation"])  # Rasa validates the pre-filled slot
    assert talk.slots["cited_articles"][0]["article_id"] == cited["article_id"]
    assert talk.slots["requested_slot"] == "feedback_text"

    text = "Mức hỗ trợ 5 triệu đồng là thấp, đề nghị nâng lên cho hộ nghèo vùng cao"
    talk.reply(text, "propose", feedback_text=text)
    talk.reply("bỏ qua", "skip", location="(bỏ qua)")
    assert "utter_policy_candidates" not in names(talk.form(phone_consent=False))
    talk.say("/affirm", "affirm")
    [done] = by_name(talk.run("action_submit_feedback"), "utter_feedback_submitted")
    stored = item(api, done["tracking_code"])
    assert stored["kind"] == "proposal"
    assert stored["citations"] == [{"law_id": cited["law_id"],
                                    "article_id": cited["article_id"]}]


def test_cancel_clears_everything(actions, domain):
    talk = chat(actions, domain).say(COMPLAINT, "complain").set(feedback_kind="complaint")
    talk.form()
    talk.say("thôi hủy", "cancel")
    talk.run("action_reset_feedback")
    for slot in ("feedback_kind", "feedback_text", "requested_slot", "submission_key"):
        assert talk.slots[slot] is None, slot


def test_formal_complaint_gets_the_procedure(api, actions, domain):
    text = "Tôi muốn khiếu nại quyết định xử phạt của cán bộ xã vì không đúng quy định"
    talk = chat(actions, domain).complaint(text)
    responses = talk.run("action_submit_feedback")
    assert names(responses) == ["utter_feedback_submitted", "utter_formal_procedure"]
    assert responses[1]["explanation"]
    assert item(api, responses[0]["tracking_code"])["department"] == "thanh-tra"


# --- tracking and handoff ---------------------------------------------------------------------
def test_status_from_a_code_in_a_sentence(api, actions, domain):
    talk = chat(actions, domain).complaint(COMPLAINT)
    code = by_name(talk.run("action_submit_feedback"), "utter_feedback_submitted")[0][
        "tracking_code"]

    other = chat(actions, domain)
    other.say(f"cho hỏi hồ sơ {code.lower().replace('-', ' ')} đến đâu rồi", "track_status")
    [status] = other.run("action_check_status")
    assert status["response"].startswith("utter_status_")
    assert status["tracking_code"] == code
    assert other.slots["tracking_code"] == code

    status_code, body = http("GET", f"{api.base}/api/v1/status/{code}")
    assert status["response"] == f"utter_status_{body['status']}"


def test_status_unknown_code_and_missing_code(actions, domain):
    talk = chat(actions, domain).say("PA-ZZZZ2222", "track_status", tracking_code="PA-ZZZZ2222")
    assert names(talk.run("action_check_status")) == ["utter_status_not_found"]
    talk = chat(actions, domain).say("tra cứu hồ sơ", "track_status")
    assert names(talk.run("action_check_status")) == ["utter_ask_tracking_code"]


def test_human_handoff_creates_a_question(api, actions, domain):
    talk = chat(actions, domain, channel="zalo").say("cho tôi gặp cán bộ", "human_handoff")
    [handoff] = talk.run("action_human_handoff")
    assert handoff["response"] == "utter_handoff"
    stored = item(api, handoff["tracking_code"])
    assert stored["kind"] == "question" and stored["channel"] == "zalo"
    assert "cho tôi gặp cán bộ" in stored["text"]


@pytest.mark.parametrize(("channel", "expected"), [("socketio", "web"), ("cmdline", "api")])
def test_channel_names(api, actions, domain, channel, expected):
    talk = chat(actions, domain, channel=channel).say("gặp cán bộ", "human_handoff")
    [handoff] = talk.run("action_human_handoff")
    assert item(api, handoff["tracking_code"])["channel"] == expected


@pytest.mark.parametrize("platform", ["zalo", "messenger"])
def test_gateway_citizens_are_filed_under_the_platforms_own_id(api, actions, domain, platform):
    """The channel gateway talks to Rasa as "<platform>:<id>"; the item keeps the bare id."""
    user = uuid.uuid4().hex[:12]
    talk = Conversation(actions, domain, sender=f"{platform}:{user}", channel=platform)
    [handoff] = talk.say("cho tôi gặp cán bộ", "human_handoff").run("action_human_handoff")
    stored = item(api, handoff["tracking_code"])
    assert (stored["channel"], stored["sender_id"]) == (platform, user)
    # on the web chat a prefix is not the gateway's: the id is kept whole
    talk = Conversation(actions, domain, sender=f"{platform}:{user}", channel="rest")
    [handoff] = talk.say("gặp cán bộ", "human_handoff").run("action_human_handoff")
    assert item(api, handoff["tracking_code"])["sender_id"] == f"{platform}:{user}"
