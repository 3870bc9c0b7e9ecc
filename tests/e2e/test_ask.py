"""Ask, end to end: dev questions sent as chat messages through a real `rasa run`."""

from __future__ import annotations

import json
import unicodedata

from tests.conftest import REPO, SHARED
from tests.e2e.conftest import answer_payload, texts

DEV = SHARED / "data" / "legal" / "questions-dev.json"


def strip_diacritics(text: str) -> str:
    """What a citizen typing without an IME sends: every mark gone, case kept."""
    text = unicodedata.normalize("NFD", text).replace("đ", "d").replace("Đ", "D")
    return unicodedata.normalize("NFC", "".join(c for c in text if unicodedata.category(c) != "Mn"))


def gold_cited(stack, sender: str, question: dict, text: str) -> tuple[bool, dict | None]:
    messages = stack.say(sender, text)
    payload = answer_payload(messages)
    if payload is None:
        return False, None
    assert 1 <= len(payload["citations"]) <= 3, payload
    cited = {(c["law_id"], c["article_id"]) for c in payload["citations"]}
    gold = {(g["law_id"], g["article_id"]) for g in question["relevant"]}
    return bool(cited & gold), payload


def test_dev_questions_get_a_gold_article_among_the_citations(stack):
    questions = json.loads(DEV.read_text())
    found = {"accented": 0, "unaccented": 0}
    missing = []
    for i, question in enumerate(questions):
        for variant, text in (("accented", question["text"]),
                              ("unaccented", strip_diacritics(question["text"]))):
            ok, payload = gold_cited(stack, f"dev-{variant}-{i}", question, text)
            found[variant] += ok
            if not ok:
                missing.append((variant, question["id"], payload and payload["citations"]))
    rates = {k: v / len(questions) for k, v in found.items()}
    print(f"\ndev questions with a gold article cited (n={len(questions)}): {rates}")
    assert rates["accented"] >= 0.90, (rates, missing[:10], stack.logs_tail())
    assert rates["unaccented"] >= 0.85, (rates, missing[:10])


def test_a_confident_answer_quotes_and_cites_the_passage(stack):
    messages = stack.say("cu-tru-1",
                         "Điều kiện đăng ký thường trú tại chỗ ở hợp pháp do thuê là gì?")
    payload = answer_payload(messages)
    assert payload is not None and payload["citations"], messages
    said = texts(messages)
    assert "Theo Điều" in said, said
    first = payload["citations"][0]
    assert first["law_id"] == "Luật Cư trú 2020", payload
    # every citation in the payload is named in the text, with a link to read more
    for citation in payload["citations"]:
        assert f"Điều {citation['article_id']}" in said, (citation, said)
    assert "/van-ban/" in said or any(
        "/van-ban/" in json.dumps(m, ensure_ascii=False) for m in messages), messages


def test_small_talk_is_answered_and_questions_skip_the_response_selector(stack):
    """The response selector (addons/selectors.py) runs for small talk only: "what is your
    name" gets its own answer, and a policy question is parsed without the selector's output."""
    said = texts(stack.say("chitchat-1", "bạn tên là gì"))
    assert "Mình là Cầu Nối" in said, said

    small_talk = stack.parse("bạn tên là gì")
    assert small_talk["intent"]["name"] == "chitchat", small_talk["intent"]
    selected = small_talk["response_selector"]["chitchat"]["response"]
    assert selected["intent_response_key"] == "chitchat/ask_name", selected
    question = stack.parse("Điều kiện đăng ký thường trú tại chỗ ở hợp pháp do thuê là gì?")
    assert question["intent"]["name"] == "ask_policy", question["intent"]
    assert "chitchat" not in question.get("response_selector", {}), question


COLLOQUIAL = REPO / "benchmarks" / "data" / "colloquial-dev.json"


def test_colloquial_questions_are_answered_not_taken_for_complaints(stack):
    """Citizens tell their situation before asking ("… có bị cấm ko mn"). Each of our 119
    colloquial questions, accented and not, must get an answer (confident or "có thể liên quan"),
    not the complaint form; addons/intent_guard.py turns the ones DIET reads as complaints
    back into questions, and the parse result says so."""
    questions = json.loads(COLLOQUIAL.read_text(encoding="utf-8"))
    answered = {"accented": 0, "unaccented": 0}
    cited = {"accented": 0, "unaccented": 0}  # ... with a gold article among the citations
    guarded, form = 0, []
    for i, question in enumerate(questions):
        gold = {(g["law_id"], g["article_id"]) for g in question["relevant"]}
        for variant, text in (("accented", question["text"]),
                              ("unaccented", strip_diacritics(question["text"]))):
            messages = stack.say(f"colloquial-{variant}-{i}", text)
            payload = answer_payload(messages)
            if payload is not None:
                answered[variant] += 1
                cited[variant] += bool(
                    gold & {(c["law_id"], c["article_id"]) for c in payload["citations"]})
            else:
                form.append((variant, text, texts(messages)[:120]))
            guarded += stack.parse(text).get("question_guard") is not None
    rates = {k: v / len(questions) for k, v in answered.items()}
    cited_rates = {k: v / len(questions) for k, v in cited.items()}
    print(f"\ncolloquial questions answered (n={len(questions)}): {rates}; "
          f"{guarded} read as complaints and turned back into questions; "
          f"a gold article cited: {cited_rates}")
    assert guarded > 0
    # 0.91 / 0.91 with the guard, about 0.79 without it (2026-11-27)
    assert rates["accented"] >= 0.85, (rates, form[:10])
    assert rates["unaccented"] >= 0.85, (rates, form[:10])
    # 0.82 / 0.79 with the sample questions (2026-12-06): the answer cites at most three
    # articles, and a question the NLU takes for a complaint cites none
    assert cited_rates["accented"] >= 0.75 and cited_rates["unaccented"] >= 0.70, cited_rates


EVERYDAY = REPO / "benchmarks" / "data" / "everyday-dev.json"


def test_the_laws_citizens_ask_about_are_answered_with_their_validity(stack):
    """The 13 laws of legal-extra are in the default index: a birth-certificate question cites
    Luật Hộ tịch 2014 with its number, and says in one line that a new law replaces it."""
    messages = stack.say("ho-tich-1", "Đăng ký khai sinh cho con cần giấy tờ gì")
    payload = answer_payload(messages)
    said = texts(messages)
    assert payload is not None and payload["citations"], messages
    assert payload["citations"][0]["law_id"] == "Luật Hộ tịch 2014", payload
    assert "Luật Hộ tịch 2014 (số 60/2014/QH13, hiệu lực từ 01/01/2016)" in said, said
    assert ("Lưu ý về hiệu lực — Luật Hộ tịch 2014: Văn bản này áp dụng đến hết 28/02/2027; "
            "sau đó áp dụng Luật Hộ tịch số 03/2026/QH16.") in said, said
    # ... and the everyday dev questions get a gold article cited, as the ALQAC ones do
    questions = json.loads(EVERYDAY.read_text(encoding="utf-8"))
    cited = sum(gold_cited(stack, f"everyday-{i}", q, q["text"])[0]
                for i, q in enumerate(questions))
    print(f"\neveryday questions with a gold article cited (n={len(questions)}): "
          f"{cited / len(questions):.3f}")
    assert cited / len(questions) >= 0.80


def test_a_question_nothing_covers_is_said_so_and_forwarded_by_its_own_topic(stack):
    """Building permits are in no indexed law: the assistant says it has no sure answer, shows
    what it found (land-law articles, Sở Nông nghiệp và Môi trường's) only as "có thể liên
    quan", and the forwarded question goes to Sở Xây dựng, from its own text."""
    sender = "ooc-1"
    messages = stack.say(sender, "thủ tục xin giấy phép xây nhà ở nông thôn cần những gì")
    payload = answer_payload(messages)
    said = texts(messages)
    assert payload is not None and payload["confident"] is False, messages
    assert "chưa tìm được quy định trả lời chắc chắn" in said and "Có thể liên quan" in said
    assert all(c.get("related") for c in payload["citations"]), payload
    forwarded = texts(stack.say(sender, "có"))
    assert "Sở Xây dựng" in forwarded, forwarded
