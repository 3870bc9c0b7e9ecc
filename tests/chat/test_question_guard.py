"""Questions are not read as complaints: the question cues (vietnamese/questions.py) and the
pipeline component that uses them (bot/addons/question_guard.py, run in the Rasa runtime)."""

from __future__ import annotations

import pytest

from scripts.nlu_data import load, plain
from scripts.stack import BOT
from tests.chat.test_lock_store import RASA_PYTHON, run_script
from vietnamese import looks_like_question

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


@pytest.mark.skipif(not RASA_PYTHON.exists(), reason="needs .venv-rasa (make install)")
def test_the_component_swaps_complaint_and_question_keeping_the_confidences():
    result = run_script("""
        import json
        from rasa.shared.nlu.training_data.message import Message
        from addons.question_guard import QuestionGuard

        guard = QuestionGuard(QuestionGuard.get_default_config())

        def parse(text, intent, ranking):
            m = Message(data={"text": text})
            m.set("intent", {"name": intent, "confidence": ranking[0][1]}, add_to_output=True)
            m.set("intent_ranking", [{"name": n, "confidence": c} for n, c in ranking],
                  add_to_output=True)
            guard.process([m])
            return {k: m.get(k) for k in ("intent", "intent_ranking", "question_guard")}

        print(json.dumps({
            "question": parse("đốt rơm rạ ngoài ruộng có bị cấm ko mn", "complain",
                              [["complain", 0.7], ["ask_policy", 0.2], ["propose", 0.1]]),
            "complaint": parse("đường sạt lở mấy tháng không ai sửa", "complain",
                               [["complain", 0.9], ["ask_policy", 0.1]]),
            "proposal": parse("sao không làm cầu cho bản em?", "propose",
                              [["propose", 0.8], ["complain", 0.2]]),
            "unranked": parse("có bị phạt không", "complain", [["complain", 0.6], ["deny", 0.4]]),
        }))
    """, cwd=BOT)
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
