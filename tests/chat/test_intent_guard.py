"""The intent is corrected in NLU only: questions are not read as complaints, and "Tôi muốn
phản ánh: …" is feedback. The text rules (vietnamese/questions.py, vietnamese/openings.py) and
the pipeline component that applies them (bot/addons/intent_guard.py, run in the Rasa runtime)."""

from __future__ import annotations

import json

import pytest

from scripts.nlu_data import load, plain
from scripts.stack import BOT
from tests.chat.test_lock_store import RASA_PYTHON, run_script
from vietnamese import explicit_feedback, has_content, looks_like_question

QUESTIONS = [
    "thủ tục ly hôn thế nào?",
    "cho e hỏi làm căn cước ở đâu",
    "thu tuc dang ky thuong tru ntn ad",
    "nhà em có được hỗ trợ không ạ",
    "nha e co dc ho tro ko a",
    "gặt xong đốt rơm rạ ngoài ruộng có bị cấm ko mn",
    "con em đi học xa nhà thì được bao nhiêu tiền",
    "vi sao phai dang ky tam tru",
    "làm sổ đỏ xong chưa vậy",
]
NOT_QUESTIONS = [
    "đường vào bản bị sạt lở mấy tháng không ai sửa",
    "sóng điện thoại chỗ e ko có gọi cấp cứu ko được",
    "trường mầm non thiếu cô giáo",
    "em cảm ơn ạ",
    "nhà em ở Bắc Hà",
    "đề xuất làm cầu treo qua suối cho bản em",
    "",
]


@pytest.mark.parametrize("text", QUESTIONS)
def test_questions_carry_a_cue(text):
    assert looks_like_question(text)


@pytest.mark.parametrize("text", NOT_QUESTIONS)
def test_complaints_and_small_talk_carry_none(text):
    assert not looks_like_question(text)

EXPLICIT = [
    ("Tôi muốn phản ánh: trường tiểu học ở xã Bản Xèo thiếu giáo viên, các cháu phải học ghép",
     "complaint"),
    ("toi muon kien nghi lam lai con duong vao ban em bi sat lo", "proposal"),
    ("Đề xuất làm cầu treo qua suối cho bản em", "proposal"),
]
NOT_EXPLICIT = [
    "tôi muốn phản ánh",  # asks to complain, says nothing yet
    "cho tôi gửi một phản ánh về việc",
    "thủ tục phản ánh thế nào",  # the word, not an opening
    "đường vào bản Tả Van sạt lở 2 tháng chưa ai dọn",  # content, but no explicit opening
    "",
]


@pytest.mark.parametrize(("text", "kind"), EXPLICIT)
def test_an_explicit_opening_with_content_names_the_kind(text, kind):
    assert explicit_feedback(text) == kind


@pytest.mark.parametrize("text", NOT_EXPLICIT)
def test_no_explicit_opening_or_no_content(text):
    assert explicit_feedback(text) is None


def test_content_is_what_follows_the_lead_in():
    assert has_content("đường vào bản Tả Van sạt lở 2 tháng chưa ai dọn")
    assert has_content("Xin chào ad, cho em gửi phản ánh về việc cầu treo bản Sín Chải bị gãy")
    assert not has_content("tôi muốn gửi một phản ánh")
    assert not has_content("em muốn kiến nghị ạ")


def examples(intent: str, *, leave_out: tuple[str, ...] = ()) -> list[str]:
    files = [p for p in sorted((BOT / "data" / "nlu").glob("*.yml")) if p.name not in leave_out]
    return [plain(e) for e in load(files)[0][intent]]


def test_cues_separate_the_training_questions_from_the_complaints():
    # policy_rules.yml: rules stated as sentences, to be read as questions, carry no cue by design
    questions = examples("ask_policy", leave_out=("policy_rules.yml",))
    complaints = examples("complain")
    assert len(questions) > 300 and len(complaints) > 200
    assert sum(map(looks_like_question, questions)) / len(questions) > 0.85
    assert sum(map(looks_like_question, complaints)) / len(complaints) < 0.05


CASES = {  # name: (text, the classifier's intent, its ranking)
    "question": ("đốt rơm rạ ngoài ruộng có bị cấm ko mn", "complain",
                 [["complain", 0.7], ["ask_policy", 0.2], ["propose", 0.1]]),
    "complaint": ("đường sạt lở mấy tháng không ai sửa", "complain",
                  [["complain", 0.9], ["ask_policy", 0.1]]),
    "proposal": ("sao không làm cầu cho bản em?", "propose", [["propose", 0.8], ["complain", 0.2]]),
    "unranked": ("có bị phạt không", "complain", [["complain", 0.6], ["deny", 0.4]]),
    "explicit": ("Tôi muốn phản ánh: đường vào bản sạt lở hai tháng chưa ai dọn", "ask_policy",
                 [["ask_policy", 0.6], ["complain", 0.3], ["greet", 0.1]]),
    "explicit_over_cue": ("tôi muốn đề xuất làm cầu treo qua suối cho bản em được không",
                          "complain", [["complain", 0.5], ["ask_policy", 0.4], ["propose", 0.1]]),
    "named_complaint": ("tôi muốn phản ánh: đường sạt lở sao không ai sửa?", "complain",
                        [["complain", 0.8], ["ask_policy", 0.2]]),
    "named_proposal": ("Tôi muốn phản ánh: nên làm thêm cầu treo cho bản em", "propose",
                       [["propose", 0.7], ["complain", 0.3]]),
    "asks_to_complain": ("tôi muốn phản ánh", "ask_policy", [["ask_policy", 0.6],
                                                             ["complain", 0.4]]),
}


@pytest.fixture(scope="module")
def guarded() -> dict:
    """Each of CASES through the component, in the Rasa runtime (one process for all)."""
    if not RASA_PYTHON.exists():
        pytest.skip("needs .venv-rasa (make install)")
    return run_script(f"""
        import json
        from rasa.shared.nlu.training_data.message import Message
        from addons.intent_guard import IntentGuard

        guard = IntentGuard(IntentGuard.get_default_config())

        def parse(text, intent, ranking):
            m = Message(data={{"text": text}})
            m.set("intent", {{"name": intent, "confidence": ranking[0][1]}}, add_to_output=True)
            m.set("intent_ranking", [{{"name": n, "confidence": c}} for n, c in ranking],
                  add_to_output=True)
            guard.process([m])
            return {{k: m.get(k) for k in ("intent", "intent_ranking", "question_guard",
                                          "explicit_feedback")}}

        cases = json.loads({json.dumps(json.dumps(CASES, ensure_ascii=False))})
        print(json.dumps({{name: parse(*case) for name, case in cases.items()}}))
    """, cwd=BOT)


def test_the_component_swaps_complaint_and_question_keeping_the_confidences(guarded):
    result = guarded
    q = result["question"]
    assert q["intent"] == {"name": "ask_policy", "confidence": 0.7}
    assert q["intent_ranking"] == [{"name": "ask_policy", "confidence": 0.7},
                                   {"name": "complain", "confidence": 0.2},
                                   {"name": "propose", "confidence": 0.1}]
    assert q["question_guard"] == {"classified_as": "complain"}
    for untouched in ("complaint", "proposal"):
        assert result[untouched]["question_guard"] is None
        assert result[untouched]["intent"]["name"] in ("complain", "propose")
    u = result["unranked"]
    assert u["intent"]["name"] == "ask_policy"
    assert [r["name"] for r in u["intent_ranking"]] == ["ask_policy", "deny", "complain"]
    for untouched in (q, result["complaint"], result["proposal"], u):
        assert untouched["explicit_feedback"] is None


def test_the_component_reads_an_explicit_opening_as_feedback_before_the_question_cue(guarded):
    result = guarded
    e = result["explicit"]
    assert e["intent"] == {"name": "complain", "confidence": 0.6}
    assert e["intent_ranking"] == [{"name": "complain", "confidence": 0.6},
                                   {"name": "ask_policy", "confidence": 0.3},
                                   {"name": "greet", "confidence": 0.1}]
    assert e["explicit_feedback"] == {"classified_as": "ask_policy"}
    assert e["question_guard"] is None
    c = result["explicit_over_cue"]  # a question cue, but "đề xuất …" opens it: a proposal
    assert c["intent"] == {"name": "propose", "confidence": 0.5}
    assert [r["name"] for r in c["intent_ranking"]] == ["propose", "ask_policy", "complain"]
    assert c["explicit_feedback"] == {"classified_as": "complain"}
    assert c["question_guard"] is None
    for kept, intent in (("named_complaint", "complain"), ("named_proposal", "propose"),
                         ("asks_to_complain", "ask_policy")):
        assert result[kept]["intent"]["name"] == intent, kept
        assert result[kept]["explicit_feedback"] is None and result[kept]["question_guard"] is None
