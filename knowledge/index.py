"""Building the search index folder: documents -> passages -> BM25 + FAISS + restorer, and
the sample questions beside them.

The folder (``models/index`` by default) holds everything a Searcher needs:
``manifest.json``, ``passages.jsonl``, ``vectors.npy``, ``dense.faiss``, the two
BM25 fields, the article headings' vectors, the sample questions (``samples.jsonl``,
their vectors and BM25 fields) and the diacritic restorer. A rebuild reuses the vector
of every passage, heading and sample whose text did not change, and does nothing at all
when no document, sample question, setting or model changed.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from knowledge import dense, sample_questions, sparse
from knowledge.chat import ChatLexicon, default_lexicon, read_plainly
from knowledge.diacritics import DiacriticRestorer, read_phrases
from knowledge.e5.convert import model_identity
from knowledge.e5.encoder import QUERY_PREFIX, Encoder
from knowledge.passages import DEFAULT_BUDGET, Passage, passages
from knowledge.sources import Sources
from knowledge.sparse import SparseIndex
from knowledge.threads import set_threads

PACKAGE = Path(__file__).parent
REPO = PACKAGE.parent
DEFAULT_INDEX = REPO / "models" / "index"
DEFAULT_MODEL = REPO / "models" / "multilingual-e5-small"
INDEX_VERSION = 4  # 2: article-heading vectors (titles.faiss); 3: sample questions; 4: validity


@dataclass
class BuildReport:
    """What a build did, for the CLI and the benchmarks."""

    documents: int = 0
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    passages: int = 0
    embedded: int = 0
    samples: int = 0  # sample questions indexed
    seconds: float = 0.0
    up_to_date: bool = False
    errors: list[str] = field(default_factory=list)


def _key(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()


def read_manifest(folder: Path) -> dict:
    path = folder / "manifest.json"
    return json.loads(path.read_text()) if path.exists() else {}


def read_passages(folder: Path) -> list[Passage]:
    """The passages of an index folder, in the order of its vectors and BM25 rows."""
    with (folder / "passages.jsonl").open(encoding="utf-8") as rows:
        return [Passage.from_dict(json.loads(line)) for line in rows]


def _settings(model_dir: Path, budget: int) -> dict:
    """Everything an index depends on besides the documents; a change means a rebuild."""
    return {
        "version": INDEX_VERSION,
        "model": model_identity(model_dir),
        "budget": budget,
        "bm25": [sparse.K1, sparse.B],
    }


def _old_vectors(folder: Path, settings: dict) -> dict[str, np.ndarray]:
    """Vectors of the previous build keyed by their text's hash, if built with the same model."""
    if read_manifest(folder).get("settings", {}).get("model") != settings["model"]:
        return {}
    reuse: dict[str, np.ndarray] = {}
    for rows, vectors in (
        ("passages.jsonl", "vectors.npy"),
        ("titles.jsonl", "title_vectors.npy"),
        ("samples.jsonl", "sample_vectors.npy"),
    ):
        try:
            keys = [json.loads(line)["key"] for line in (folder / rows).open()]
            reuse.update(zip(keys, np.load(folder / vectors)))
        except (OSError, ValueError, KeyError):
            continue
    return reuse


def _sample_key(plain: str) -> str:
    """Sample questions are encoded as queries: their key can't meet a passage's."""
    return _key(QUERY_PREFIX + plain)


def _embed(
    texts: Sequence[str],
    reuse: dict[str, np.ndarray],
    encoder: Encoder,
    progress: bool,
    *,
    queries: bool = False,
) -> tuple[np.ndarray, int]:
    """Vectors for all texts (as passages, or as queries), encoding only those whose hash is
    not in ``reuse``."""
    keys = [_sample_key(t) if queries else _key(t) for t in texts]
    vectors = np.zeros((len(texts), encoder.dim), np.float32)
    todo = []
    for i, k in enumerate(keys):
        if k in reuse:
            vectors[i] = reuse[k]
        else:
            todo.append(i)
    # Similar lengths in one batch waste less padding: encode shortest first.
    todo.sort(key=lambda i: len(texts[i]))
    desc, unit = ("Mã hóa câu hỏi mẫu", "câu") if queries else ("Mã hóa văn bản", "đoạn")
    encode = encoder.encode_queries if queries else encoder.encode_passages
    bar = tqdm(total=len(todo), desc=desc, unit=unit, disable=not progress)
    for start in range(0, len(todo), 256):
        ids = todo[start : start + 256]
        vectors[ids] = encode([texts[i] for i in ids])
        bar.update(len(ids))
    bar.close()
    return vectors, len(todo)


def article_titles(items: Sequence[Passage]) -> tuple[list[Passage], np.ndarray]:
    """First passage of each article (for its heading) and each passage's article row."""
    rows: dict[tuple[str, str], int] = {}
    firsts: list[Passage] = []
    for p in items:
        if (p.doc_id, p.article_id) not in rows:
            rows[(p.doc_id, p.article_id)] = len(firsts)
            firsts.append(p)
    return firsts, np.array([rows[(p.doc_id, p.article_id)] for p in items], dtype=np.int64)


def _jsonl(path: Path, rows: Iterable[dict]) -> None:
    with path.open("w", encoding="utf-8") as out:
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")


@dataclass(frozen=True)
class _Built:
    """What a build writes besides the manifest."""

    items: list[Passage]
    firsts: list[Passage]  # each article's first passage (its heading)
    vectors: np.ndarray
    titles: np.ndarray
    samples: list[sample_questions.Sample]
    sample_plain: list[str]  # each sample as the search reads a query
    sample_vectors: np.ndarray
    restorer: DiacriticRestorer


def _write(tmp: Path, built: _Built, manifest: dict) -> None:
    items = built.items
    _jsonl(tmp / "passages.jsonl", ({**p.to_dict(), "key": _key(p.index_text)} for p in items))
    _jsonl(
        tmp / "titles.jsonl",
        ({"key": _key(p.heading), "doc_id": p.doc_id, "article_id": p.article_id}
         for p in built.firsts),
    )
    _jsonl(
        tmp / "samples.jsonl",
        (
            {"key": _sample_key(plain), "doc_id": q.doc_id, "article_id": q.article_id,
             "text": q.text, "plain": plain}
            for q, plain in zip(built.samples, built.sample_plain)
        ),
    )
    np.save(tmp / "vectors.npy", built.vectors)
    np.save(tmp / "title_vectors.npy", built.titles)
    np.save(tmp / "sample_vectors.npy", built.sample_vectors)
    dense.save_faiss(dense.build_faiss(built.vectors), tmp / "dense.faiss")
    dense.save_faiss(dense.build_faiss(built.titles), tmp / "titles.faiss")
    SparseIndex.build([p.index_text for p in items]).save(tmp)
    SparseIndex.build(built.sample_plain).save(tmp, "bm25_samples")
    built.restorer.save(tmp / "restorer.json.gz")
    (tmp / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=1))


def _swap(tmp: Path, folder: Path) -> None:
    """Replace ``folder`` by ``tmp`` so a reader never sees half an index."""
    old = folder.with_name(folder.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if folder.exists():
        folder.rename(old)
    tmp.rename(folder)
    shutil.rmtree(old, ignore_errors=True)


def _samples_hash(found: Sequence[sample_questions.Sample], lexicon: ChatLexicon) -> str:
    """Identity of the sample questions and of how a question is read (chat spellings)."""
    digest = hashlib.sha1()
    for q in found:
        digest.update(f"{q.doc_id}\x00{q.article_id}\x00{q.text}\n".encode())
    digest.update(json.dumps(lexicon.abbreviations, sort_keys=True).encode())
    return digest.hexdigest()


def build_index(
    folder: Path = DEFAULT_INDEX,
    sources: Sources | None = None,
    *,
    model_dir: Path = DEFAULT_MODEL,
    budget: int = DEFAULT_BUDGET,
    progress: bool = True,
    encoder_factory: Callable[[Path], Encoder] = Encoder,
    force: bool = False,
    lexicon: ChatLexicon | None = None,
) -> BuildReport:
    """Build (or refresh) the index folder from the sources (the default corpus when none are
    given); see the module docstring."""
    started = time.perf_counter()
    sources = Sources() if sources is None else sources
    lexicon = lexicon or default_lexicon()
    docs, errors = sources.load()
    found, sample_errors = sources.load_samples()
    report = BuildReport(documents=len(docs), errors=[str(e) for e in [*errors, *sample_errors]])
    hashes = {d.doc_id: d.content_hash for d in docs}
    samples_hash = _samples_hash(found, lexicon)
    settings = _settings(model_dir, budget)
    old = read_manifest(folder)
    old_hashes = old.get("documents", {})
    report.changed = sorted(k for k, h in hashes.items() if old_hashes.get(k) != h)
    report.removed = sorted(set(old_hashes) - set(hashes))
    unchanged = not report.changed and not report.removed and old.get("samples") == samples_hash
    if not force and old.get("settings") == settings and unchanged:
        report.up_to_date, report.passages = True, old.get("passages", 0)
        report.samples = old.get("sample_questions", 0)
        return report
    items = passages(docs, budget=budget)
    firsts, _ = article_titles(items)
    kept, notes = sample_questions.for_articles(found, {(p.doc_id, p.article_id) for p in firsts})
    report.errors.extend(notes)
    restorer = DiacriticRestorer.fit([p.index_text for p in items], extra_texts=read_phrases())
    plain = [read_plainly(q.text, lexicon, restorer)[1] for q in kept]
    texts = [p.index_text for p in items] + [p.heading for p in firsts]
    set_threads(os.cpu_count() or 1)  # batch encoding: all cores help
    try:
        encoder = encoder_factory(model_dir)
        reuse = _old_vectors(folder, settings)
        all_vectors, report.embedded = _embed(texts, reuse, encoder, progress)
        sample_vectors, n_samples = _embed(plain, reuse, encoder, progress, queries=True)
        report.embedded += n_samples
    finally:
        set_threads(1)
    built = _Built(
        items=items,
        firsts=firsts,
        vectors=all_vectors[: len(items)],
        titles=all_vectors[len(items) :],
        samples=kept,
        sample_plain=plain,
        sample_vectors=sample_vectors,
        restorer=restorer,
    )
    manifest = {
        "settings": settings,
        "documents": hashes,
        "samples": samples_hash,
        "passages": len(items),
        "sample_questions": len(kept),
        "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".index-", dir=folder.parent))
    try:
        _write(tmp, built, manifest)
        _swap(tmp, folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    report.passages = len(items)
    report.samples = len(kept)
    report.seconds = time.perf_counter() - started
    return report
