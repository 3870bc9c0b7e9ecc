"""Dense retrieval: multilingual-e5-small (sentence-transformers) + a FAISS index.

e5 expects "query: " before questions and "passage: " before indexed text.
On two cores BLAS threads fight, so queries run with one thread
(see ../shared/notes/embedding-model.md: 114 ms -> ~20 ms median).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

# Thread pools read these once, when the libraries load; set them before that.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import faiss  # noqa: E402

QUERY_PREFIX = "query: "
PASSAGE_PREFIX = "passage: "
# Above this many vectors an exact scan stops being cheap next to query encoding.
HNSW_THRESHOLD = 50_000


def set_threads(n: int) -> None:
    """Pin torch and FAISS to ``n`` threads (1 for serving, all cores for building)."""
    import torch

    torch.set_num_threads(n)
    faiss.omp_set_num_threads(n)


class Encoder:
    """Loads the local e5 model folder once and encodes queries and passages."""

    def __init__(self, model_dir: Path) -> None:
        from knowledge.model_setup import load_model

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
        from knowledge import onnx_query

        if onnx_query.is_current(Path(model_dir)):
            try:
                self._onnx = onnx_query.session(Path(model_dir) / onnx_query.FILE)
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
            from knowledge import onnx_query

            return onnx_query.run(self._onnx, self._tokens([QUERY_PREFIX + text], "np"))
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

        from knowledge import onnx_query

        self.passage_workers = torch.get_num_threads()  # all cores when building, else 1
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        batches = [order[start : start + batch] for start in range(0, len(order), batch)]
        features = (self._tokens([prefix + texts[i] for i in ids]) for ids in batches)
        out = np.zeros((len(texts), self.dim), np.float32)
        with ThreadPoolExecutor(self.passage_workers) as pool:
            runs = pool.map(lambda f: onnx_query.run(self._onnx, f), features)
            for ids, vectors in tqdm(zip(batches, runs), total=len(batches),
                                     disable=not progress):
                out[ids] = vectors
        return out


def build_faiss(vectors: np.ndarray, *, hnsw_threshold: int = HNSW_THRESHOLD) -> faiss.Index:
    """Exact inner product for small corpora, HNSW for large ones."""
    dim = vectors.shape[1]
    if len(vectors) < hnsw_threshold:
        index = faiss.IndexFlatIP(dim)
    else:
        index = faiss.IndexHNSWFlat(dim, 32, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = 80
        index.hnsw.efSearch = 96
    index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    return index


def search(index: faiss.Index, query_vec: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Top-k (scores, ids) for one query vector; missing slots are dropped."""
    k = min(k, index.ntotal)
    if k <= 0:
        return np.zeros(0, np.float32), np.zeros(0, np.int64)
    scores, ids = index.search(query_vec.reshape(1, -1), k)
    keep = ids[0] >= 0
    return scores[0][keep], ids[0][keep]


def save_faiss(index: faiss.Index, path: Path) -> None:
    faiss.write_index(index, str(path))


def load_faiss(path: Path) -> faiss.Index:
    return faiss.read_index(str(path))
