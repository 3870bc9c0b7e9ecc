"""The classifier's intent, corrected by two text rules: here, and in no other process.

1. **An explicit opening is feedback.** "Tôi muốn phản ánh: <what is wrong>", "đề xuất làm cầu
   treo cho bản em" open by naming what they are (``vietnamese.explicit_feedback``: the opening,
   and at least a few words of content after it). A message the classifier reads as
   ``ask_policy`` (or that rule 2 would turn into one) is read as ``complain`` ("phản ánh") or
   ``propose`` ("kiến nghị", "đề xuất") instead, and its parse result holds
   ``"explicit_feedback": {"classified_as": "ask_policy"}``. The feedback form then takes the
   message as its content (``actions/tell.py``) and ``feedback_kind`` follows the intent
   (``bot/domain/slots.yml``). Rule 1 changes only what would otherwise be answered as a
   question: a ``complain`` is never turned into a ``propose`` or back.
2. **A complaint phrased as a question is a question.** DIET reads some citizens' questions as
   complaints: the ones that tell a situation before asking ("nhà bên cạnh đốt rơm rạ ngoài
   ruộng, có bị cấm ko mn"), which is how people ask. A question read as a complaint is the
   worse error: the citizen is walked through the complaint form (commune, policy, phone)
   instead of getting an answer, while a complaint read as a question still gets passages and,
   when search is unsure, the offer to forward it to the department. So when the top intent is
   one of ``guarded_intents`` (``complain``) and the text carries a question cue
   (``vietnamese.QUESTION_CUES``: "?", a final "không/chưa/à…", "gì/bao nhiêu/ở đâu/thế
   nào…", "cho em hỏi"), it is read as ``question_intent`` (``ask_policy``), and the parse
   result holds ``"question_guard": {"classified_as": "complain"}``. 88% of the ``ask_policy``
   training examples carry a cue (rules stated as sentences aside), and 14 of the 447
   complaints: the rhetorical "thu tiền j mà nhiều thế" and descriptions whose words are cues
   ("tháng nào cũng…", "chẳng bao giờ…", "bỏ không"); such complaints are answered as
   questions, and can still be forwarded.

Rule 1 wins over rule 2: "Tôi muốn phản ánh: đường sạt lở sao không ai sửa?" is a complaint.

Why here and not in the action server: the intent is decided in NLU, and what reads it next —
the rules and policies that start the form or the answer, the slot mappings that fill
``feedback_kind`` and the opening's place, ``FallbackClassifier`` — should all see the final
one. Before issue 18 the action server corrected rule 1 itself (``action_answer_question`` sent
such a message on to the form), in the opposite direction of this guard and in another process.

A correction swaps the two intents in the ranking, confidences included: the gap that
``FallbackClassifier`` checks stays what it was.

The rules themselves are ``addons/intent_rules.py`` (no Rasa there: the NLU benchmark scores
with them too). config.yml, after the intent classifier and before ``FallbackClassifier``::

    - name: addons.intent_guard.IntentGuard
"""

from __future__ import annotations

import copy
from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import (
    INTENT,
    INTENT_NAME_KEY,
    INTENT_RANKING_KEY,
    PREDICTED_CONFIDENCE_KEY,
    TEXT,
)
from rasa.shared.nlu.training_data.message import Message

from addons.intent_rules import DEFAULTS, corrected


@DefaultV1Recipe.register(
    [DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=False
)
class IntentGuard(GraphComponent):
    """Reads an explicit feedback opening as feedback, and a complaint-classified message with
    a question cue as a question."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return copy.deepcopy(DEFAULTS)

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = {k: config[k] for k in DEFAULTS}

    @classmethod
    def create(cls, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> IntentGuard:
        return cls(config)

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            self._guard(message)
        return messages

    def _guard(self, message: Message) -> None:
        intent = message.get(INTENT) or {}
        name = intent.get(INTENT_NAME_KEY)
        correction = corrected(name, message.get(TEXT), self.config)
        if correction is None:
            return
        target, key = correction
        ranking = [dict(r) for r in message.get(INTENT_RANKING_KEY) or []]
        confidence = {r[INTENT_NAME_KEY]: r[PREDICTED_CONFIDENCE_KEY] for r in ranking}
        top = intent.get(PREDICTED_CONFIDENCE_KEY, confidence.get(name, 0.0))
        other = confidence.get(target, 0.0)
        for r in ranking:
            if r[INTENT_NAME_KEY] == name:
                r[INTENT_NAME_KEY] = target
            elif r[INTENT_NAME_KEY] == target:
                r[INTENT_NAME_KEY] = name
        if target not in confidence:  # was not ranked: now last, at 0
            ranking.append({INTENT_NAME_KEY: name, PREDICTED_CONFIDENCE_KEY: other})
        message.set(INTENT, {INTENT_NAME_KEY: target, PREDICTED_CONFIDENCE_KEY: top},
                    add_to_output=True)
        message.set(INTENT_RANKING_KEY, ranking, add_to_output=True)
        # in the parse result and the tracker: what the classifier said, for audits and tests
        message.set(key, {"classified_as": name}, add_to_output=True)
