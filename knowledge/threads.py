"""Thread pools of the numeric libraries: one thread while serving, all cores while building.

On two cores BLAS threads fight, so queries run with one thread
(see ../shared/notes/embedding-model.md: 114 ms -> ~20 ms median). The pools read the
variables below once, when faiss, torch or ONNX Runtime loads: importing this module before
them (``knowledge.dense`` and ``knowledge.e5.encoder`` do) sets the defaults in time.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def set_threads(n: int) -> None:
    """Pin torch and FAISS to ``n`` threads (1 for serving, all cores for building)."""
    import faiss
    import torch

    torch.set_num_threads(n)
    faiss.omp_set_num_threads(n)
