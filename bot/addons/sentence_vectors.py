"""The search model's sentence vector of each message, beside the word and character counts.

The count featurizers see the words a message uses; a citizen who says what an intent means in
words no training example of that intent uses ("nhà tôi bị ngập mấy hôm rồi chả ai đến" for a
complaint) is then guessed from the words it shares with other intents. A multilingual sentence
model has read far more Vietnamese than the training data holds: its vector of the message
carries the meaning the counts miss. On the linear NLU proxy (``benchmarks/nlu_linear.py --e5 3
--restore``) these vectors lifted every draw of the split; ``benchmarks/nlu.py`` measures DIET.

This component adds one dense *sentence-level* feature to every message text: the e5
"query: " vector of the message (multilingual-e5-small, the model the search uses, run by ONNX
Runtime from the graph that ``python -m knowledge model`` exports, tokenised by the
``tokenizer.json`` of the same folder), times ``weight``; with ``sequence: true``, on every token
as well. The message is first read as the search reads a question
(``knowledge.chat.read_plainly``: chat spellings spelled out, diacritics restored when typed
without, by the restorer the index build learned from the corpus), so "ko ai den don rac" and
"không ai đến dọn rác" get nearly the same vector.

**Not in ``config.yml``**: measured with ``benchmarks/nlu.py --quick --draws 3 --e5 3
[--e5-tokens]``, it did not move DIET's split macro-F1 (0.870 against 0.867 over three draws,
within the ±0.02 a draw moves; ``bot/README.md``), while the linear proxy gained 0.024. Kept,
tested, for the next try at the NLU bar; shipping it would also need ``addons.e5_reader.stamp``
in the Rasa model's fingerprint and ONNX Runtime, tokenizers and ``knowledge/`` in the Rasa image.

Needs ``onnxruntime`` and ``tokenizers`` in the Rasa environment (``requirements/rasa.lock``),
the model folder (``models/multilingual-e5-small``, ``CAUNOI_E5_MODEL``) and the index folder
(``models/index``, ``CAUNOI_INDEX``: its ``restorer.json.gz``); the repository root must be
importable for ``knowledge.*`` (``CAUNOI_REPO``, default: two folders above this file). A
missing piece stops training or loading with a message that says which, not with wrong vectors.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.constants import TOKENS_NAMES
from rasa.shared.nlu.constants import FEATURE_TYPE_SENTENCE, FEATURE_TYPE_SEQUENCE, TEXT
from rasa.shared.nlu.training_data.features import Features
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from addons.e5_reader import Reader, index_dir, model_dir, stamp


@DefaultV1Recipe.register(
    [DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER], is_trainable=False
)
class SentenceVectors(GraphComponent):
    """Adds the weighted e5 sentence vector of a message's text as a dense sentence feature."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        # sequence: the same vector on every token too, so that sequence and sentence features
        # have the same size and DIET needs no extra layers to unify them
        return {"weight": 3.0, "restore": True, "sequence": False}

    def __init__(self, config: dict[str, Any], name: str) -> None:
        self.weight = float(config["weight"])
        self.sequence = bool(config["sequence"])
        self.name = name
        self.reader = Reader(model_dir(), index_dir(), bool(config["restore"]))

    @classmethod
    def create(cls, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> SentenceVectors:
        return cls(config, execution_context.node_name)

    @classmethod
    def fingerprint_addon(cls, config: dict[str, Any]) -> str | None:
        return json.dumps({"inputs": stamp(restore=bool(config["restore"]))})

    def _featurize(self, message: Message, memo: dict[str, np.ndarray] | None = None) -> None:
        text = message.get(TEXT)
        if not text:
            return
        if memo is None:
            vector = self.reader.vector(text)
        else:  # training data holds the same text under several intents' copies and attributes
            vector = memo.get(text)
            if vector is None:
                vector = memo[text] = self.reader.vector(text)
        weighted = self.weight * vector[np.newaxis, :]
        message.add_features(Features(weighted, FEATURE_TYPE_SENTENCE, TEXT, self.name))
        tokens = message.get(TOKENS_NAMES[TEXT])
        if self.sequence and tokens:
            message.add_features(Features(np.repeat(weighted, len(tokens), axis=0),
                                          FEATURE_TYPE_SEQUENCE, TEXT, self.name))

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        memo: dict[str, np.ndarray] = {}
        for example in training_data.training_examples:
            self._featurize(example, memo)
        return training_data

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            self._featurize(message)
        return messages
