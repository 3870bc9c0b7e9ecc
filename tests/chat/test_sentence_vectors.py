"""The sentence-vector featurizer (bot/addons/sentence_vectors.py, run in the Rasa runtime) gives
DIET the search's own e5 vector of a message, read as the search reads it."""

from __future__ import annotations

import json
import shutil
import sys

import numpy as np
import pytest

from scripts.stack import BOT
from tests.chat.test_lock_store import RASA_PYTHON, run_script

pytestmark = pytest.mark.skipif(not RASA_PYTHON.exists(), reason="needs .venv-rasa (make install)")

TEXTS = ["cho e hỏi làm căn cước ở đâu", "đường vào bản bị sạt lở mấy tháng không ai sửa",
         "ko ai den don rac o ban em", "chào ad"]

FEATURIZE = """
    import json
    from rasa.shared.nlu.training_data.message import Message
    from rasa.shared.nlu.training_data.training_data import TrainingData
    from addons.nlu_vi import VietnameseTokenizer
    from addons.sentence_vectors import SentenceVectors

    config = SentenceVectors.get_default_config()
    featurizer = SentenceVectors({**config, "weight": 2.0}, "e5")
    texts = json.loads(TEXTS)
    runtime = [Message(data={"text": t}) for t in texts] + [Message(data={"intent": "greet"})]
    featurizer.process(runtime)
    training = TrainingData([Message(data={"text": t, "intent": "x"}) for t in texts])
    featurizer.process_training_data(training)
    out = []
    for m in runtime:
        feats = m.features
        out.append([{"type": f.type, "attribute": f.attribute, "origin": f.origin,
                     "shape": list(f.features.shape), "values": f.features[0].tolist()}
                    for f in feats])
    trained = [m.features[0].features[0].tolist() for m in training.training_examples]
    tokenized = Message(data={"text": texts[0]})
    VietnameseTokenizer(VietnameseTokenizer.get_default_config()).process([tokenized])
    SentenceVectors({**config, "sequence": True}, "e5").process([tokenized])
    shapes = {f.type: list(f.features.shape) for f in tokenized.features}
    same = bool((tokenized.features[0].features == tokenized.features[1].features).all())
    print(json.dumps({"runtime": out, "training": trained, "tokens": [shapes, same]}))
"""


@pytest.fixture(scope="module")
def featurized() -> dict:
    return run_script(FEATURIZE.replace("TEXTS", repr(json.dumps(TEXTS))))


@pytest.fixture(scope="module")
def searcher():
    from knowledge.search import Searcher

    return Searcher()


def test_each_text_gets_one_weighted_sentence_feature_and_nothing_else(featurized):
    *texts, intent_only = featurized["runtime"]
    assert intent_only == []  # no text, no vector
    for feats in texts:
        assert len(feats) == 1
        (f,) = feats
        assert (f["type"], f["attribute"], f["origin"], f["shape"]) == ("sentence", "text", "e5",
                                                                         [1, 384])
        assert np.linalg.norm(f["values"]) == pytest.approx(2.0, abs=1e-4)  # unit vector × weight


def test_with_sequence_the_vector_sits_on_every_token_too(featurized):
    shapes, same_vector = featurized["tokens"]
    n_words = len(TEXTS[0].split())
    assert shapes == {"sentence": [1, 384], "sequence": [n_words, 384]} and same_vector


def test_vectors_are_the_searchs_own_reading_of_the_message(featurized, searcher):
    for text, (f,) in zip(TEXTS, featurized["runtime"][:-1], strict=True):
        expected = searcher.encoder.encode_query(searcher.interpret(text).restored)[0]
        assert float(np.dot(np.asarray(f["values"]) / 2.0, expected)) > 0.999, text


def test_training_and_runtime_vectors_agree(featurized):
    runtime = [feats[0]["values"] for feats in featurized["runtime"][:-1]]
    assert np.allclose(featurized["training"], runtime, atol=1e-5)


def test_unaccented_chat_is_read_like_the_accented_message(featurized, searcher):
    """Restoring diacritics first is what makes "ko ai den don rac" mean something to e5."""
    restored = np.asarray(featurized["runtime"][2][0]["values"]) / 2.0
    accented = searcher.encoder.encode_query("không ai đến dọn rác ở bản em")[0]
    as_typed = searcher.encoder.encode_query("ko ai den don rac o ban em")[0]
    assert float(restored @ accented) > 0.95
    assert float(restored @ accented) > float(as_typed @ accented) + 0.03


def test_a_missing_model_folder_is_named(tmp_path):
    out = run_script("""
        import json
        from addons.sentence_vectors import SentenceVectors
        try:
            SentenceVectors(SentenceVectors.get_default_config(), "e5")
        except FileNotFoundError as e:
            print(json.dumps({"error": str(e)}))
    """, CAUNOI_E5_MODEL=str(tmp_path / "none"))
    assert "query.onnx" in out["error"] and "make model" in out["error"]


def test_the_training_cache_key_follows_the_restorer_not_its_zip_timestamps(tmp_path):
    """Rasa caches featurized training data under the component's fingerprint: a rebuilt index
    with the same restorer keeps the cache, a different restorer does not."""
    import zipfile

    from knowledge.index import DEFAULT_INDEX, DEFAULT_MODEL

    sys.path.insert(0, str(BOT))
    from addons.e5_reader import RESTORER, stamp

    index = tmp_path / "index"
    index.mkdir()
    shutil.copy(DEFAULT_INDEX / RESTORER, index)
    before = stamp(DEFAULT_MODEL, index)
    with zipfile.ZipFile(DEFAULT_INDEX / RESTORER) as old, \
            zipfile.ZipFile(index / RESTORER, "w") as new:  # same arrays, new timestamps
        for info in old.infolist():
            new.writestr(info.filename, old.read(info), zipfile.ZIP_DEFLATED)
    assert stamp(DEFAULT_MODEL, index) == before
    assert stamp(DEFAULT_MODEL, index, restore=False) != before  # no restorer, other vectors
    with zipfile.ZipFile(index / RESTORER, "w") as new:
        new.writestr("meta.npy", b"another model")
    assert stamp(DEFAULT_MODEL, index) != before
