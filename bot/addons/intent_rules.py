"""The two corrections of the classifier's intent, without Rasa: ``addons.intent_guard`` applies
them in Rasa's pipeline; ``benchmarks/nlu/linear.py`` (the proxy, Python 3.11) scores with the
same ones. Why they exist and why only NLU applies them: ``addons/intent_guard.py``."""

from __future__ import annotations

from typing import Any

from vietnamese import explicit_feedback, looks_like_question

QUESTION_KEY = "question_guard"  # rule 2 applied: a complaint phrased as a question
FEEDBACK_KEY = "explicit_feedback"  # rule 1 applied: an explicit feedback opening
DEFAULTS: dict[str, Any] = {
    "question_intent": "ask_policy",
    "guarded_intents": ["complain"],
    "feedback_intents": {"complaint": "complain", "proposal": "propose"},
}


def corrected(name: str | None, text: str | None,
              config: dict[str, Any] = DEFAULTS) -> tuple[str, str] | None:
    """The intent to read instead of ``name`` and the key of the rule that says so, or None.

    Rule 2 is decided first; rule 1 then applies to whatever would be answered as a question
    (classified so, or turned into one by rule 2), so an explicit opening wins over a question
    cue. A ``complain`` or ``propose`` from the classifier is never turned into the other.
    """
    question = config["question_intent"]
    target, key = name, None
    if name in config["guarded_intents"] and looks_like_question(text):
        target, key = question, QUESTION_KEY
    if target == question:
        kind = explicit_feedback(text)
        if kind is not None:
            target, key = config["feedback_intents"][kind], FEEDBACK_KEY
    if key is None or target == name:
        return None
    return target, key


def final_intent(name: str, text: str) -> str:
    """The intent the dialogue sees once the default rules have run."""
    correction = corrected(name, text)
    return name if correction is None else correction[0]
