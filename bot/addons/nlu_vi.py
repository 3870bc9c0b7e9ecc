"""A whitespace tokenizer for Vietnamese chat whose lemmas are accent-folded and de-slanged.

Citizens type "không", "khong", "ko", "k" or "khôngggg" for the same word. Rasa's
``WhitespaceTokenizer`` splits Vietnamese well (syllables are space-separated), but the
featurizers then see those spellings as unrelated words. This tokenizer keeps every token's
text and offsets exactly as typed (entities, regexes and the lexical featurizer still see the
original) and sets each token's *lemma* to a canonical form:

* lower-cased, diacritics stripped, "đ" -> "d" ("Đăng" -> "dang");
* runs of three or more identical letters collapsed ("khongggg" -> "khong", "okkk" -> "ok");
* common chat spellings spelled out ("ko"/"k"/"hok" -> "khong", "dc"/"đc" -> "duoc",
  "j" -> "gi", "vs" -> "voi", "ntn" -> "nhu the nao", "sdt" -> "so dien thoai", ...).

``CountVectorsFeaturizer`` reads lemmas by default (``use_lemma: true``), so word and char
n-gram features of "Không được à" and "ko dc a" are the same, and accented and unaccented
messages are classified alike. Expansions may hold several words; the featurizer joins the
lemmas with spaces before counting, so "ntn" counts as "nhu", "the", "nao".

config.yml::

    - name: addons.nlu_vi.VietnameseTokenizer

Rasa imports ``addons.nlu_vi`` from the current directory (``rasa`` puts it on ``sys.path``):
run ``rasa train`` / ``rasa run`` / ``rasa test`` in ``bot/``, or put ``bot/`` on PYTHONPATH.
No downloads, no dependencies beyond Rasa.
"""

from __future__ import annotations

from typing import Any

from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.tokenizers.tokenizer import Token
from rasa.nlu.tokenizers.whitespace_tokenizer import WhitespaceTokenizer
from rasa.shared.nlu.training_data.message import Message

from addons import action_results
from vietnamese import canonical

action_results.install()  # rasa run imports this module with every model of this bot


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER, is_trainable=False
)
class VietnameseTokenizer(WhitespaceTokenizer):
    """Whitespace tokens; lemma = folded, de-slanged token (see the module docstring)."""

    @staticmethod
    def not_supported_languages() -> list[str] | None:
        return None

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {
            **WhitespaceTokenizer.get_default_config(),
            # spell out chat abbreviations ("ko" -> "khong") in the lemma
            "chat_spellings": True,
        }

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> VietnameseTokenizer:
        return cls(config)

    def tokenize(self, message: Message, attribute: str) -> list[Token]:
        tokens = super().tokenize(message, attribute)
        chat = self._config["chat_spellings"]
        for token in tokens:
            token.lemma = canonical(token.text, chat_spellings=chat)
        return tokens
