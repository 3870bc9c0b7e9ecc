"""The e5 encoder: query and passage vectors from the local model folder.

e5 expects "query: " before questions and "passage: " before indexed text. A query goes
through the exported ONNX graph when install time made a faithful one (``onnx_graph.py``),
else straight through the torch transformer; both give the model folder's own vectors (mean
pooling + L2). Threads: see :mod:`knowledge.threads`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from knowledge import threads  # noqa: F401 - one-thread defaults before torch loads
from knowledge.e5 import onnx_graph
from knowledge.e5.convert import DEFAULT_DEST, STAMP_FILE

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

QUERY_PREFIX = "query: "
PASSAGE_PREFIX = "passage: "


def load_model(path: Path = DEFAULT_DEST, *, num_threads: int | None = None) -> SentenceTransformer:
    """Load the built folder with sentence-transformers on CPU, never touching a hub.

    ``num_threads`` sets torch's intra-op threads (1 is fastest for single queries on
    small machines: threads otherwise fight over the cores).
    """
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    path = Path(path).resolve()
    if not (path / STAMP_FILE).is_file():
        raise FileNotFoundError(f"no model at {path}; run: python -m knowledge model")
    import torch
    from sentence_transformers import SentenceTransformer

    if num_threads is not None:
        torch.set_num_threads(num_threads)
    return SentenceTransformer(str(path), device="cpu", local_files_only=True)


class Encoder:
    """Loads the local e5 model folder once and encodes queries and passages."""

    def __init__(self, model_dir: Path) -> None:
        self.model_dir = model_dir
        self.model = load_model(model_dir)
        self.dim = int(self.model.get_embedding_dimension())
        self._tokenizer = self.model.tokenizer
        self._transformer = self.model[0].auto_model
        pooling = getattr(self.model[1], "pooling_mode", None)
        if pooling != "mean" or len(self.model) != 3:
            raise ValueError(f"{model_dir}: cần mô hình e5 với mean pooling + Normalize")
        self._onnx = None  # the exported query graph, when install time made a faithful one
        self.passage_workers = 1  # batches encoded at once by the last encode_passages
        if onnx_graph.is_current(Path(model_dir)):
            try:
                self._onnx = onnx_graph.session(Path(model_dir) / onnx_graph.FILE)
            except Exception:  # noqa: BLE001 - onnxruntime missing or the file unreadable
                self._onnx = None

    def _tokens(self, texts: list[str], tensors: str = "np"):
        """Token ids and mask for prefixed texts, padded to the longest, cut at the model's
        maximum length."""
        return self._tokenizer(texts, return_tensors=tensors, padding=True, truncation=True,
                               max_length=self.model.max_seq_length)

    def encode_query(self, text: str) -> np.ndarray:
        """One query, straight through the transformer: mean pooling + L2, as the
        model folder's modules say, without sentence-transformers' batching overhead
        (about 1.5 ms of a ~20 ms query)."""
        if self._onnx is not None:
            return onnx_graph.run(self._onnx, self._tokens([QUERY_PREFIX + text], "np"))
        import torch

        features = self._tokens([QUERY_PREFIX + text], "pt")
        with torch.inference_mode():
            hidden = self._transformer(**features).last_hidden_state
            mask = features["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            vec = torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=-1)
        return vec.numpy().astype(np.float32)

    def encode_passages(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        """Passage vectors; through the exported graph in small, length-sorted batches when
        there is one (about twice as fast as torch on two cores, the same vectors)."""
        return self._encode_many(texts, PASSAGE_PREFIX, progress=progress)

    def encode_queries(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        """Many questions at once (the sample questions of the index), as ``encode_query``
        encodes each."""
        return self._encode_many(texts, QUERY_PREFIX, progress=progress)

    def _encode_many(self, texts: Sequence[str], prefix: str, *, progress: bool) -> np.ndarray:
        if self._onnx is not None:
            return self._encode_onnx(texts, prefix, progress=progress)
        vecs = self.model.encode(
            [prefix + t for t in texts],
            batch_size=32,
            normalize_embeddings=True,
            show_progress_bar=progress,
        )
        return np.asarray(vecs, dtype=np.float32).reshape(len(texts), self.dim)

    def _encode_onnx(self, texts: Sequence[str], prefix: str, batch: int = 4, *,
                     progress: bool = False) -> np.ndarray:
        """Length-sorted batches through the one-thread query session. While building
        (``set_threads(n)``), n batches run at once: ONNX Runtime releases the GIL, and on two
        cores two one-thread runs encode ~15% more passages per second than one run on two
        threads (15.9 against 13.9 per second on an AVX2 machine), with the same vectors and
        no second copy of the graph. Tokenising stays on this thread: a fast tokenizer
        must not be called from two threads at once."""
        import torch
        from tqdm import tqdm

        self.passage_workers = torch.get_num_threads()  # all cores when building, else 1
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        batches = [order[start : start + batch] for start in range(0, len(order), batch)]
        features = (self._tokens([prefix + texts[i] for i in ids]) for ids in batches)
        out = np.zeros((len(texts), self.dim), np.float32)
        with ThreadPoolExecutor(self.passage_workers) as pool:
            runs = pool.map(lambda f: onnx_graph.run(self._onnx, f), features)
            for ids, vectors in tqdm(zip(batches, runs), total=len(batches),
                                     disable=not progress):
                out[ids] = vectors
        return out
