"""The e5 reader (bot/addons/e5_reader.py, run in the Rasa runtime) gives the intent classifier the
search's own e5 vector of a message, read as the search reads it, and the stamp Rasa's training
cache is keyed on."""

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

READ = """
    import json
    from addons.e5_reader import Reader, index_dir, model_dir

    reader = Reader(model_dir(), index_dir())
    print(json.dumps({"vectors": [reader.vector(t).tolist() for t in json.loads(TEXTS)]}))
"""


@pytest.fixture(scope="module")
def vectors() -> list[np.ndarray]:
    read = run_script(READ.replace("TEXTS", repr(json.dumps(TEXTS))))
    return [np.asarray(v) for v in read["vectors"]]


@pytest.fixture(scope="module")
def searcher(encoder):
    from knowledge import Searcher

    return Searcher(encoder=encoder)  # the default index, as the assistant reads it


def test_each_message_gets_one_unit_vector(vectors):
    assert len(vectors) == len(TEXTS)
    for vector in vectors:
        assert vector.shape == (384,)
        assert np.linalg.norm(vector) == pytest.approx(1.0, abs=1e-4)


def test_vectors_are_the_searchs_own_reading_of_the_message(vectors, searcher):
    for text, vector in zip(TEXTS, vectors, strict=True):
        expected = searcher.encoder.encode_query(searcher.interpret(text).restored)[0]
        assert float(np.dot(vector, expected)) > 0.999, text


def test_unaccented_chat_is_read_like_the_accented_message(vectors, searcher):
    """Restoring diacritics first is what makes "ko ai den don rac" mean something to e5."""
    restored = vectors[2]
    accented = searcher.encoder.encode_query("không ai đến dọn rác ở bản em")[0]
    as_typed = searcher.encoder.encode_query("ko ai den don rac o ban em")[0]
    assert float(restored @ accented) > 0.95
    assert float(restored @ accented) > float(as_typed @ accented) + 0.03


def test_a_missing_model_folder_is_named(tmp_path):
    out = run_script("""
        import json
        from addons.e5_reader import Reader, index_dir, model_dir
        try:
            Reader(model_dir(), index_dir())
        except FileNotFoundError as e:
            print(json.dumps({"error": str(e)}))
    """, CAUNOI_E5_MODEL=str(tmp_path / "none"))
    assert "query.onnx" in out["error"] and "make model" in out["error"]


def test_the_training_cache_key_follows_the_restorer_not_its_zip_timestamps(tmp_path):
    """Rasa caches featurized training data under the component's fingerprint: a rebuilt index
    with the same restorer keeps the cache, a different restorer does not."""
    import zipfile

    from knowledge import DEFAULT_INDEX, DEFAULT_MODEL

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
