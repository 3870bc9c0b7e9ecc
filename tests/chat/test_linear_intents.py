"""The linear intent classifier (bot/addons/linear_intents.py, run in the Rasa runtime): trained,
persisted and loaded through Rasa's own model storage, it reads intents from the words and from
the search's e5 vector of a message."""

from __future__ import annotations

import json

import pytest

from tests.chat.test_lock_store import RASA_PYTHON, run_script

pytestmark = pytest.mark.skipif(not RASA_PYTHON.exists(), reason="needs .venv-rasa (make install)")

TRAIN = {
    "greet": ["xin chào", "chào ad", "chào bạn ạ", "hello"],
    "ask_policy": ["thủ tục đăng ký thường trú thế nào", "cho em hỏi làm căn cước ở đâu",
                   "xây nhà trên đất nông nghiệp có phải xin phép không",
                   "nghỉ thai sản được mấy tháng"],
    "complain": ["đường vào bản sạt lở mấy tháng rồi không ai sửa",
                 "rác thải ở chợ bốc mùi, không ai dọn",
                 "cán bộ xã làm hồ sơ chậm, hẹn mãi không xong",
                 "nước sinh hoạt bị mất cả tuần nay"],
    "chitchat": ["bạn tên gì", "bạn là người hay máy"],
}
# none of these words in that order is a training example; two are typed without accents
PROBES = {
    "chào bạn nhé": "greet",
    "cho e hoi lam so ho khau o dau": "ask_policy",
    "ko ai den don rac o ban em": "complain",
    "đèn đường hỏng cả tháng nay chẳng ai sửa": "complain",
}

SCRIPT = """
    import json, tempfile
    from pathlib import Path
    from rasa.engine.graph import ExecutionContext, GraphSchema
    from rasa.engine.storage.local_model_storage import LocalModelStorage
    from rasa.engine.storage.resource import Resource
    from rasa.shared.nlu.training_data.message import Message
    from rasa.shared.nlu.training_data.training_data import TrainingData
    from addons.linear_intents import LinearIntentClassifier

    train, probes = json.loads(TRAIN), json.loads(PROBES)
    storage = LocalModelStorage(Path(tempfile.mkdtemp()))
    context = ExecutionContext(GraphSchema({}), "test")
    config = {**LinearIntentClassifier.get_default_config(), "ranking_length": 3}

    def parse(component, texts):
        messages = [Message(data={"text": t}) for t in texts] + [Message(data={"intent": "x"})]
        component.process(messages)
        return [[m.get("intent"), m.get("intent_ranking")] for m in messages]

    trained = LinearIntentClassifier.create(config, storage, Resource("linear"), context)
    examples = [Message(data={"text": t, "intent": i}) for i, ts in train.items() for t in ts]
    resource = trained.train(TrainingData(examples))
    loaded = LinearIntentClassifier.load(config, storage, resource, context)
    lonely = LinearIntentClassifier.create(config, storage, Resource("one-intent"), context)
    lonely.train(TrainingData([Message(data={"text": "xin chào", "intent": "greet"})]))
    reloaded = LinearIntentClassifier.load(config, storage, Resource("one-intent"), context)
    print(json.dumps({"trained": parse(trained, list(probes)),
                      "loaded": parse(loaded, list(probes)),
                      "one_intent": parse(reloaded, ["xin chào"])}))
"""


@pytest.fixture(scope="module")
def parsed() -> dict:
    script = SCRIPT.replace("TRAIN", repr(json.dumps(TRAIN))).replace(
        "PROBES", repr(json.dumps(PROBES)))
    return run_script(script)


def test_new_wordings_with_and_without_accents_get_their_intent(parsed):
    *rows, _ = parsed["trained"]
    assert [intent["name"] for intent, _ in rows] == list(PROBES.values())


def test_ranking_is_sorted_probabilities_headed_by_the_intent(parsed):
    *rows, no_text = parsed["trained"]
    for intent, ranking in rows:
        confidences = [r["confidence"] for r in ranking]
        assert len(ranking) == 3 and ranking[0] == intent
        assert confidences == sorted(confidences, reverse=True)
        assert 0 < sum(confidences) <= 1 + 1e-9 and intent["confidence"] > 1 / len(TRAIN)
    assert no_text == ["x", None]  # a message without text is left as it was


def test_the_persisted_model_reads_messages_as_the_trained_one(parsed):
    assert parsed["loaded"] == parsed["trained"]


def test_data_with_one_intent_trains_nothing_and_loads(parsed):
    (intent, ranking), _ = parsed["one_intent"]
    assert intent is None and ranking is None
