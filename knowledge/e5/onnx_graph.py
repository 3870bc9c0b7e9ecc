"""The e5 encoder as an ONNX Runtime graph: the same vectors, about twice as fast.

A search spends most of its time encoding the one query (~25 ms in torch on one thread here);
ONNX Runtime runs the same graph in ~12 ms. The graph (transformer + mean pooling + L2) is
exported at install time and checked against torch (``onnx_export.py``). Passages go through
the same graph ("passage: " prefix, small length-sorted batches, all cores while building):
6,300 passages in about half the time torch takes on two cores.

Only numpy here (onnxruntime when a session opens): the assistant's Python 3.10 runtime
(``bot/addons/e5_reader.py``) runs the same graph through this module.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

FILE = "query.onnx"
STAMP = "query.onnx.json"
FORMAT = 1


def model_stamp(model_dir: Path) -> str:
    """The model folder's source hash: a graph exported from other weights is stale."""
    stamp = json.loads((model_dir / "caunoi-model.json").read_text(encoding="utf-8"))
    return str(stamp.get("source_sha256"))


def is_current(model_dir: Path) -> bool:
    try:
        stamp = json.loads((model_dir / STAMP).read_text(encoding="utf-8"))
        return (
            stamp.get("format") == FORMAT
            and stamp.get("model") == model_stamp(model_dir)
            and (model_dir / FILE).is_file()
        )
    except (OSError, ValueError):
        return False


def session(path: Path, threads: int = 1):
    """An ONNX Runtime session; one thread for queries (two cores are shared with everything
    else), all cores for encoding passages in bulk."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def run(sess, features: dict) -> np.ndarray:
    inputs = {k: np.asarray(features[k], dtype=np.int64) for k in ("input_ids", "attention_mask")}
    return sess.run(None, inputs)[0].astype(np.float32)
