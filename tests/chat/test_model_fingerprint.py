"""The Rasa model is retrained when what its intent classifier reads changes, not only bot/:
with addons.linear_intents in the pipeline, a new diacritic restorer (a rebuilt index) gives
other e5 vectors, so it must give another model name (scripts/stack.py, bot_fingerprint)."""

from __future__ import annotations

import io
import shutil
import zipfile

import numpy as np

from scripts.stack import BOT, bot_fingerprint
from tests.conftest import REPO


def restorer(path, values) -> None:
    buffer = io.BytesIO()
    np.savez(buffer, weights=np.asarray(values, np.float32))
    path.write_bytes(buffer.getvalue())
    assert zipfile.is_zipfile(path)


def test_a_new_restorer_gives_a_new_model_name_only_when_the_pipeline_reads_it(tmp_path,
                                                                            monkeypatch):
    bot = tmp_path / "bot"
    (bot / "addons").mkdir(parents=True)
    shutil.copy(BOT / "addons" / "e5_reader.py", bot / "addons")
    config = (BOT / "config.yml").read_text()
    assert "addons.linear_intents.LinearIntentClassifier" in config
    (bot / "config.yml").write_text(config)
    index = tmp_path / "index"
    index.mkdir()
    monkeypatch.setenv("CAUNOI_REPO", str(REPO))
    monkeypatch.setenv("CAUNOI_INDEX", str(index))

    restorer(index / "restorer.json.gz", [1, 2, 3])
    first = bot_fingerprint(bot)
    assert bot_fingerprint(bot) == first  # stable
    restorer(index / "restorer.json.gz", [1, 2, 4])
    assert bot_fingerprint(bot) != first

    # a pipeline without e5 components does not depend on the index
    (bot / "config.yml").write_text(config.replace(
        "  - name: addons.linear_intents.LinearIntentClassifier\n", ""))
    plain = bot_fingerprint(bot)
    restorer(index / "restorer.json.gz", [5])
    assert bot_fingerprint(bot) == plain
