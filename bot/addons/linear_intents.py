"""Intent classification by a linear model over word counts and the search's sentence vectors.

On the NLU split (``benchmarks/nlu/linear.py``) a linear model reads intents as well as DIET
from the same counts (0.870 against 0.867 over three draws), and, unlike DIET, it gains from
multilingual-e5-small's vector of the message (0.894). This component is that model inside
Rasa: logistic regression (probabilities, so ``FallbackClassifier`` and ``IntentGuard`` see
confidences) over

- tf-idf of the folded, de-slanged words and word pairs ("ko dc" -> "khong duoc"),
- tf-idf of character 2–5-grams of the same text (typos, run-together words),
- tf-idf of the words as typed (diacritics count when present),
- the e5 "query:" vector of the message, read as the search reads a question (chat spellings
  spelled out, diacritics restored; ``addons.e5_reader``), times ``e5_weight``.

It sets ``intent`` and ``intent_ranking``; placed after DIET, it replaces DIET's intent (DIET
still extracts entities). Retrieval intents are classified by their base name (``chitchat``),
as DIET does; the response selector picks the response.

In ``config.yml`` since 2026-11-28: with the 1,085 examples restored the same day, the NLU
split macro-F1 over three draws went from 0.867 (DIET) to 0.903 (``python -m
benchmarks.nlu.intents --quick --draws 3``; ``docs/figures.md``). Needs what
``addons.e5_reader`` needs (ONNX Runtime, tokenizers, the e5 model folder and the index's
restorer); ``scripts/stack.py`` folds ``e5_reader.stamp()`` into the model's fingerprint.
"""

from __future__ import annotations

import json
from typing import Any

import joblib
import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.shared.nlu.constants import (
    INTENT,
    INTENT_NAME_KEY,
    INTENT_RANKING_KEY,
    PREDICTED_CONFIDENCE_KEY,
    TEXT,
)
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from scipy.sparse import csr_matrix, hstack
from sklearn.linear_model import LogisticRegression

from addons.e5_reader import Reader, index_dir, model_dir, stamp
from addons.intent_features import featurizers

FILE = "linear_intents.joblib"
# part of the training cache key: a new format must not reuse a pickle of the old one
FORMAT = 2


@DefaultV1Recipe.register(
    [DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=True
)
class LinearIntentClassifier(GraphComponent, IntentClassifier):
    """Logistic regression over tf-idf counts and weighted e5 sentence vectors."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {"C": 30.0, "e5_weight": 3.0, "restore": True, "ranking_length": 10}

    def __init__(self, config: dict[str, Any], model_storage: ModelStorage,
                 resource: Resource, fitted: tuple | None = None) -> None:
        self.config = config
        self._storage, self._resource = model_storage, resource
        self.feats, self.model = fitted if fitted else (None, None)
        self._reader: Reader | None = None

    @classmethod
    def create(cls, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> LinearIntentClassifier:
        return cls(config, model_storage, resource)

    @classmethod
    def load(cls, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
             execution_context: ExecutionContext, **kwargs: Any) -> LinearIntentClassifier:
        try:
            with model_storage.read_from(resource) as folder:
                fitted = joblib.load(folder / FILE)
        except (ValueError, FileNotFoundError):  # trained without intent examples
            fitted = None
        component = cls(config, model_storage, resource, fitted)
        if fitted:  # load the e5 graph now, not on a citizen's first message
            component._reader = component._new_reader()
        return component

    @classmethod
    def fingerprint_addon(cls, config: dict[str, Any]) -> str | None:
        return json.dumps({"format": FORMAT, "inputs": stamp(restore=bool(config["restore"]))})

    def _new_reader(self) -> Reader:
        return Reader(model_dir(), index_dir(), bool(self.config["restore"]))

    @property
    def reader(self) -> Reader:
        if self._reader is None:
            self._reader = self._new_reader()
        return self._reader

    def _vectors(self, texts: list[str]) -> csr_matrix:
        memo: dict[str, np.ndarray] = {}
        for t in texts:
            if t not in memo:
                memo[t] = self.reader.vector(t)
        return csr_matrix(float(self.config["e5_weight"]) * np.stack([memo[t] for t in texts]))

    def train(self, training_data: TrainingData) -> Resource:
        examples = [e for e in training_data.intent_examples if e.get(TEXT)]
        if len({e.get(INTENT) for e in examples}) < 2:
            return self._resource  # nothing to tell apart: process() leaves messages alone
        texts = [e.get(TEXT) for e in examples]
        feats = featurizers()
        x = hstack([f.fit_transform(texts) for f in feats] + [self._vectors(texts)]).tocsr()
        model = LogisticRegression(C=float(self.config["C"]), max_iter=3000,
                                   class_weight="balanced")
        model.fit(x, [e.get(INTENT) for e in examples])
        self.feats, self.model = feats, model
        with self._storage.write_to(self._resource) as folder:
            joblib.dump((feats, model), folder / FILE)
        return self._resource

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            text = message.get(TEXT)
            if self.model is None or not text:
                continue
            x = hstack([f.transform([text]) for f in self.feats] + [self._vectors([text])])
            probs = self.model.predict_proba(x.tocsr())[0]
            order = np.argsort(-probs)[: int(self.config["ranking_length"])]
            ranking = [{INTENT_NAME_KEY: str(self.model.classes_[i]),
                        PREDICTED_CONFIDENCE_KEY: float(probs[i])} for i in order]
            message.set(INTENT, ranking[0], add_to_output=True)
            message.set(INTENT_RANKING_KEY, ranking, add_to_output=True)
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data
