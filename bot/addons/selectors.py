"""A response selector that only runs when the message is small talk.

Rasa's ``ResponseSelector`` with ``retrieval_intent: chitchat`` still runs its whole network on
every message, a question or a complaint alike, and its answer is read only when the intent is
``chitchat`` (the ``utter_chitchat`` rule). Profiling ``rasa run`` under load showed it at 11%
of the process's CPU. This subclass asks the model only for messages whose intent, as the
classifier before it in the pipeline decided, is the retrieval intent; the others go through
untouched, as if the selector had found nothing. Training is unchanged.

``rasa test nlu`` reads a missing selection as "no response predicted", which is also what a
citizen sees when the intent was wrong: the figures stay honest.
"""

from __future__ import annotations

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.nlu.selectors.response_selector import ResponseSelector
from rasa.shared.nlu.constants import INTENT, INTENT_NAME_KEY
from rasa.shared.nlu.training_data.message import Message


def intent_name(message: Message) -> str | None:
    return (message.get(INTENT) or {}).get(INTENT_NAME_KEY)


@DefaultV1Recipe.register(
    [DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=True
)
class RetrievalIntentSelector(ResponseSelector):
    """``ResponseSelector`` that skips messages outside its retrieval intent."""

    def process(self, messages: list[Message]) -> list[Message]:
        if not self.retrieval_intent:
            return super().process(messages)
        wanted = [m for m in messages if intent_name(m) == self.retrieval_intent]
        if wanted:
            super().process(wanted)
        return messages
