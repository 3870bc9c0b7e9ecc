"""A message phrased as a question is not read as a complaint.

DIET reads some citizens' questions as complaints: the ones that tell a situation before asking
("nhà bên cạnh đốt rơm rạ ngoài ruộng, có bị cấm ko mn"), which is how people ask. A question
read as a complaint is the worse error: the citizen is walked through the complaint form
(commune, policy, phone) instead of getting an answer, while a complaint read as a question
still gets passages and, when search is unsure, the offer to forward it to the department.

So when the classifier's top intent is one of ``guarded_intents`` (``complain``) and the text
carries a question cue (``vietnamese.QUESTION_CUES``: "?", a final "không/chưa/à…",
"gì/bao nhiêu/ở đâu/thế nào…", "cho em hỏi"), this component swaps that intent and
``question_intent`` (``ask_policy``) in the ranking, confidences included: the gap that
``FallbackClassifier`` checks stays what it was. The parse result then holds
``"question_guard": {"classified_as": "complain"}``. 88% of the ``ask_policy`` training
examples carry a cue (rules stated as sentences aside), and 14 of the 447 complaints: the
rhetorical "thu tiền j mà nhiều thế" and descriptions whose words are cues ("tháng nào cũng…",
"chẳng bao giờ…", "bỏ không"); such complaints are answered as questions, and can still be
forwarded.

config.yml, after the intent classifier and before ``FallbackClassifier``::

    - name: addons.question_guard.QuestionGuard
"""

from __future__ import annotations

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

from vietnamese import looks_like_question

GUARD_KEY = "question_guard"


@DefaultV1Recipe.register(
    [DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=False
)
class QuestionGuard(GraphComponent):
    """Reads a complaint-classified message with a question cue as a question."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {"question_intent": "ask_policy", "guarded_intents": ["complain"]}

    def __init__(self, config: dict[str, Any]) -> None:
        self.question_intent = config["question_intent"]
        self.guarded = set(config["guarded_intents"])

    @classmethod
    def create(cls, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> QuestionGuard:
        return cls(config)

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            self._guard(message)
        return messages

    def _guard(self, message: Message) -> None:
        intent = message.get(INTENT) or {}
        name = intent.get(INTENT_NAME_KEY)
        if name not in self.guarded or not looks_like_question(message.get(TEXT)):
            return
        ranking = [dict(r) for r in message.get(INTENT_RANKING_KEY) or []]
        confidence = {r[INTENT_NAME_KEY]: r[PREDICTED_CONFIDENCE_KEY] for r in ranking}
        top = intent.get(PREDICTED_CONFIDENCE_KEY, confidence.get(name, 0.0))
        other = confidence.get(self.question_intent, 0.0)
        for r in ranking:
            if r[INTENT_NAME_KEY] == name:
                r[INTENT_NAME_KEY] = self.question_intent
            elif r[INTENT_NAME_KEY] == self.question_intent:
                r[INTENT_NAME_KEY] = name
        if self.question_intent not in confidence:  # was not ranked: now last, at 0
            ranking.append({INTENT_NAME_KEY: name, PREDICTED_CONFIDENCE_KEY: other})
        message.set(INTENT, {INTENT_NAME_KEY: self.question_intent,
                             PREDICTED_CONFIDENCE_KEY: top}, add_to_output=True)
        message.set(INTENT_RANKING_KEY, ranking, add_to_output=True)
        # in the parse result and the tracker: what the classifier said, for audits and tests
        message.set(GUARD_KEY, {"classified_as": name}, add_to_output=True)
