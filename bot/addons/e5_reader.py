"""Messages -> e5 sentence vectors, as the search reads a citizen's question; no Rasa imports.

``addons.linear_intents`` (the intent classifier) reads messages through it and keys Rasa's
training cache on :func:`stamp` (a new e5 model, restorer or chat lexicon gives new vectors);
``scripts/stack.py`` folds :func:`stamp` into the model's fingerprint when ``config.yml`` names
it. Needs ``onnxruntime`` and ``tokenizers`` (both in ``requirements/rasa.lock`` and
``py311.lock``) and, from the search, only what runs on numpy: the exported graph
(``knowledge.e5.onnx_graph``), the chat lexicon and the diacritic restorer.
"""

from __future__ import annotations

import hashlib
import os
import zipfile
from pathlib import Path

import numpy as np

REPO = Path(os.environ.get("CAUNOI_REPO") or Path(__file__).resolve().parents[2])
QUERY_PREFIX = "query: "
MAX_TOKENS = 512
RESTORER = "restorer.json.gz"


def model_dir() -> Path:
    return Path(os.environ.get("CAUNOI_E5_MODEL") or REPO / "models" / "multilingual-e5-small")


def index_dir() -> Path:
    return Path(os.environ.get("CAUNOI_INDEX") or REPO / "models" / "index")


def _required(path: Path, made_by: str) -> Path:
    if not path.is_file():
        raise FileNotFoundError(f"Thiếu {path} (tạo bằng: {made_by})")
    return path


class Reader:
    """Message -> unit e5 query vector, as ``knowledge`` reads a citizen's question."""

    def __init__(self, model: Path, index: Path, restore: bool = True) -> None:
        from tokenizers import Tokenizer

        from knowledge.e5 import onnx_graph  # the session the search's encoder uses

        onnx = _required(model / onnx_graph.FILE, "make model")
        self.tokenizer = Tokenizer.from_file(str(_required(model / "tokenizer.json", "make model")))
        self.tokenizer.enable_truncation(MAX_TOKENS)
        self.session = onnx_graph.session(onnx)  # one thread: one message at a time
        self._run = onnx_graph.run
        self.read = None
        if restore:
            from knowledge import DiacriticRestorer, default_lexicon, read_plainly
            from vietnamese import normalize

            restorer = DiacriticRestorer.load(_required(index / RESTORER, "make index"))
            lexicon = default_lexicon()
            self.read = lambda text: read_plainly(normalize(text), lexicon, restorer)[1]

    def text(self, message: str) -> str:
        return self.read(message) if self.read else message

    def vector(self, message: str) -> np.ndarray:
        ids = [self.tokenizer.encode(QUERY_PREFIX + self.text(message)).ids]
        return self._run(self.session, {"input_ids": ids, "attention_mask": [[1] * len(ids[0])]})[0]


def stamp(model: Path | None = None, index: Path | None = None, restore: bool = True) -> str:
    """What the vectors depend on besides the text: the exported graph's stamp (it holds the
    model's hash), the tokenizer, and when restoring, the restorer's arrays (their CRCs: the
    .npz's own bytes change with every build) and the chat lexicon's files."""
    from knowledge import chat
    from knowledge.e5 import onnx_graph
    from vietnamese import SPELLINGS_FILE

    model, index = model or model_dir(), index or index_dir()
    lexicon = [*sorted(chat.DATA.glob("*.tsv")), SPELLINGS_FILE] if restore else []
    digest = hashlib.sha256()
    for path in [model / onnx_graph.STAMP, model / "tokenizer.json", *lexicon]:
        digest.update(path.read_bytes() if path.is_file() else b"missing:" + bytes(path))
    if restore:
        try:
            with zipfile.ZipFile(index / RESTORER) as npz:
                for info in sorted(npz.infolist(), key=lambda i: i.filename):
                    digest.update(f"{info.filename}:{info.CRC}:{info.file_size};".encode())
        except (OSError, zipfile.BadZipFile):
            digest.update(b"no restorer")
    return digest.hexdigest()[:16]
