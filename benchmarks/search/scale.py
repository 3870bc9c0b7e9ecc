"""Scale run: 200,000 synthetic passages made by repeating and perturbing the real ones.

Text is perturbed (words dropped and swapped, a random tag added) so BM25 sees a
larger vocabulary and longer posting lists; vectors are the real passage vectors
plus Gaussian noise, renormalised. Encoding 200k passages with e5 on 2 cores
would take about three hours (~19 passages/s), so the run reuses vectors and
reports that cost by extrapolation instead of pretending to measure it.

    .venv/bin/python -m benchmarks.search.scale [--n 200000]
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import psutil

from benchmarks.common import question_sets, save, table
from knowledge import DEFAULT_INDEX, Passage, Searcher, dense, percentile
from knowledge.index import article_titles, read_passages
from knowledge.sparse import SparseIndex


def perturb(p: Passage, i: int, rng: random.Random, vocab: list[str]) -> Passage:
    """A copy of ``p`` in synthetic document ``i // 5000``: words dropped and swapped."""
    words = [w for w in p.text.split() if rng.random() > 0.1] or [rng.choice(vocab)]
    for _ in range(max(1, len(words) // 20)):
        words[rng.randrange(len(words))] = rng.choice(vocab)
    return replace(
        p,
        passage_id=f"syn-{i}",
        doc_id=f"{p.doc_id} #{i // 5000}",
        text=" ".join(words) + f" mã{i}",
    )


def noisy(vectors: np.ndarray, rows: list[int] | np.ndarray, seed: int) -> np.ndarray:
    """Copies of ``vectors[rows]`` with Gaussian noise, renormalised."""
    out = vectors[rows] + np.random.default_rng(seed).normal(0, 0.02, (len(rows), vectors.shape[1]))
    out = out.astype(np.float32)
    out /= np.linalg.norm(out, axis=1, keepdims=True)
    return out


def make_folder(n: int, folder: Path, rng: random.Random) -> dict:
    """Write a synthetic index folder of ``n`` passages; return build timings."""
    real = read_passages(DEFAULT_INDEX)
    vectors = np.load(DEFAULT_INDEX / "vectors.npy")
    title_vectors = np.load(DEFAULT_INDEX / "title_vectors.npy")
    _, real_article = article_titles(real)
    vocab = sorted({w for p in real for w in p.text.split()})
    source = [i % len(real) for i in range(n)]
    items = [perturb(real[j], i, rng, vocab) for i, j in enumerate(source)]
    firsts, article_of = article_titles(items)
    _, first_index = np.unique(article_of, return_index=True)  # rows follow first appearance
    first_source = np.asarray(source)[first_index]
    vecs = noisy(vectors, source, 7)
    titles = noisy(title_vectors, real_article[first_source], 8)
    with (folder / "passages.jsonl").open("w") as out:
        for p in items:
            out.write(json.dumps(p.to_dict(), ensure_ascii=False) + "\n")
    timings = {}
    start = time.perf_counter()
    SparseIndex.build([p.index_text for p in items]).save(folder)
    timings["bm25 build s"] = time.perf_counter() - start
    np.save(folder / "vectors.npy", vecs)
    np.save(folder / "title_vectors.npy", titles)
    for kind, threshold in (("flat", n + 1), ("hnsw", 0)):
        start = time.perf_counter()
        dense.save_faiss(
            dense.build_faiss(vecs, hnsw_threshold=threshold), folder / f"{kind}.faiss"
        )
        dense.save_faiss(
            dense.build_faiss(titles, hnsw_threshold=threshold), folder / f"{kind}-titles.faiss"
        )
        timings[f"{kind} build s"] = time.perf_counter() - start
    for name in ("restorer.json.gz", "manifest.json"):
        shutil.copy(DEFAULT_INDEX / name, folder / name)
    return timings


def latency(searcher: Searcher, texts: list[str]) -> tuple[float, float]:
    searcher.search(texts[0], 10)
    ms = []
    for t in texts:
        start = time.perf_counter()
        searcher.search(t, 10)
        ms.append((time.perf_counter() - start) * 1000)
    return statistics.median(ms), percentile(ms, 95)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=200_000)
    args = ap.parse_args()
    texts = [q.text for q in question_sets()["alqac-dev"]][:100]
    rows = []
    small = Searcher()
    p50, p95 = latency(small, texts)
    rows.append(
        {
            "corpus": f"default ({len(small.passages)})",
            "index": "flat",
            "p50 ms": f"{p50:.1f}",
            "p95 ms": f"{p95:.1f}",
        }
    )
    encoder = small.encoder
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        timings = make_folder(args.n, folder, random.Random(7))
        for kind in ("flat", "hnsw"):
            shutil.copy(folder / f"{kind}.faiss", folder / "dense.faiss")
            shutil.copy(folder / f"{kind}-titles.faiss", folder / "titles.faiss")
            rss0 = psutil.Process().memory_info().rss
            searcher = Searcher(folder, encoder=encoder)
            rss = (psutil.Process().memory_info().rss - rss0) / 2**20
            p50, p95 = latency(searcher, texts)
            other = "hnsw" if kind == "flat" else "flat"
            skip = {"dense.faiss", "titles.faiss", f"{other}.faiss", f"{other}-titles.faiss"}
            size = sum(f.stat().st_size for f in folder.iterdir() if f.name not in skip)
            rows.append(
                {
                    "corpus": f"synthetic ({args.n})",
                    "index": kind,
                    "build s": f"{timings['bm25 build s'] + timings[f'{kind} build s']:.1f}",
                    "size MB": f"{size / 2**20:.0f}",
                    "memory MB": f"{rss:.0f}",
                    "p50 ms": f"{p50:.1f}",
                    "p95 ms": f"{p95:.1f}",
                }
            )
            del searcher
    print(table(rows, ["corpus", "index", "build s", "size MB", "memory MB", "p50 ms", "p95 ms"]))
    print(
        f"\nEncoding {args.n} passages at ~19/s would take ~{args.n / 19 / 3600:.1f} h (not run)."
    )
    save("scale", {"rows": rows, "timings": timings})


if __name__ == "__main__":
    main()
