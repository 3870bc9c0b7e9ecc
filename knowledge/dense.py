"""Dense retrieval over the passage vectors: a FAISS index, exact or HNSW.

The vectors come from :class:`knowledge.e5.encoder.Encoder` ("passage: " texts); a query's
vector is searched here by inner product, which is the cosine for the unit vectors e5 gives.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from knowledge import threads  # noqa: F401 - one-thread defaults before faiss loads

# isort: split
import faiss

# Above this many vectors an exact scan stops being cheap next to query encoding.
HNSW_THRESHOLD = 50_000


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
