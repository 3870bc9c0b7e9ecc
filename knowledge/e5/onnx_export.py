"""Export the e5 query graph for ONNX Runtime and keep it only if it gives torch's vectors.

Tracing changes the model object it traces, so the export runs in a process of its own
(:func:`ensure` starts it); the graph is kept when its vectors match torch's (cosine ≥ 0.999 on
Vietnamese text), and stamped with the model it was made from.

    python -m knowledge.e5.onnx_export MODEL_DIR
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from knowledge.e5.encoder import QUERY_PREFIX, Encoder
from knowledge.e5.onnx_graph import FILE, FORMAT, STAMP, is_current, model_stamp, run, session

CHECK_TEXTS = (
    "thủ tục đăng ký thường trú cho con ở xã vùng cao như thế nào",
    "cho e hỏi xây nhà trên đất nương thì có phải xin phép ko ạ",
    "ly hôn",
)
MIN_COSINE = 0.999


def ensure(model_dir: Path) -> bool:
    """Export (in a child process) unless current; False if it could not be made faithful."""
    if is_current(model_dir):
        return True
    out = subprocess.run([sys.executable, "-m", "knowledge.e5.onnx_export", str(model_dir)])
    return out.returncode == 0 and is_current(model_dir)


def _export(model_dir: Path) -> int:
    import torch

    encoder = Encoder(model_dir)
    tokenizer, model = encoder._tokenizer, encoder._transformer.eval()
    expected = np.concatenate([encoder.encode_query(t) for t in CHECK_TEXTS])  # before tracing

    class Pooled(torch.nn.Module):
        def __init__(self, transformer) -> None:
            super().__init__()
            self.transformer = transformer

        def forward(self, input_ids, attention_mask):
            hidden = self.transformer(input_ids=input_ids, attention_mask=attention_mask)[0]
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1)
            return torch.nn.functional.normalize(pooled, dim=-1)

    sample = tokenizer([QUERY_PREFIX + CHECK_TEXTS[0]], return_tensors="pt")
    tmp = model_dir / (FILE + ".tmp")
    axes = {"input_ids": {0: "batch", 1: "tokens"}, "attention_mask": {0: "batch", 1: "tokens"}}
    torch.onnx.export(
        Pooled(model),
        (sample["input_ids"], sample["attention_mask"]),
        str(tmp),
        input_names=["input_ids", "attention_mask"],
        output_names=["vector"],
        dynamic_axes={**axes, "vector": {0: "batch"}},
        opset_version=17,
        dynamo=False,
    )
    sess = session(tmp)
    got = np.concatenate(
        [run(sess, tokenizer([QUERY_PREFIX + t], return_tensors="np")) for t in CHECK_TEXTS]
    )
    cosine = float((got * expected).sum(1).min())
    if cosine < MIN_COSINE:
        tmp.unlink(missing_ok=True)
        print(f"ONNX query encoder rejected: cosine {cosine:.5f} < {MIN_COSINE}", file=sys.stderr)
        return 1
    tmp.replace(model_dir / FILE)
    stamp = {"format": FORMAT, "model": model_stamp(model_dir), "min_cosine": round(cosine, 6)}
    (model_dir / STAMP).write_text(json.dumps(stamp), encoding="utf-8")
    print(f"Bộ mã hóa câu hỏi ONNX: {model_dir / FILE} (cosine với torch {cosine:.5f})")
    return 0


if __name__ == "__main__":
    sys.exit(_export(Path(sys.argv[1])))
