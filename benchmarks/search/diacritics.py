"""Benchmark of knowledge.diacritics: accuracy, size, fit time and latency.

Run from the repository root::

    python -m benchmarks.search.diacritics [--variants all] [--laws PATH]

For each model variant it fits on the statutes of ``laws.json`` (the default corpus's laws,
``knowledge.laws_file()``, unless ``--laws`` names another; minus 200
held-out sentences, which are removed from training wherever they occur) plus
the everyday phrase list, then restores diacritics on

* the held-out sentences, folded (``fold``: lower-case, no marks);
* the dev questions of ``questions-dev.json``, folded ("dev-q");
* the colloquial chat-style questions of ``benchmarks/data/colloquial-dev.json``,
  folded ("colloq"; they keep their abbreviations such as "ko", "đc", "vk");

and compares syllable by syllable with the original after ``normalize()``.
Latency is measured on folded 30-syllable queries cut from the held-out text
(median of 5 runs per query; p50/p95 over the queries), on one core.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from knowledge import laws_file
from knowledge.diacritics import DiacriticRestorer, read_phrases, split_segments
from vietnamese import fold, words

REPO = Path(__file__).resolve().parents[2]
# shared/ lies beside the clone: the ALQAC dev questions
DATA = REPO.parent / "shared" / "data" / "legal"
COLLOQUIAL = REPO / "benchmarks" / "data" / "colloquial-dev.json"
HELD_OUT = 200
SEED = 13

# name -> keyword arguments of DiacriticRestorer.fit, plus "everyday": how the
# everyday phrase list is used ("mix": own model, interpolated; "merge": appended
# to the corpus; "none": not used).
VARIANTS: dict[str, dict] = {
    "trigram (default)": {},
    "bigram": {"order": 2},
    "4-gram": {"order": 4, "min_counts": (1, 1, 2, 3)},
    "trigram unpruned": {"min_counts": (1, 1, 1)},
    "trigram mix 0.1": {"extra_weight": 0.1},
    "trigram merged counts": {"everyday": "merge"},
    "trigram no everyday": {"everyday": "none"},
}


@dataclass
class Score:
    """Syllable accuracy and sentence exact match of one evaluation set."""

    syllable_acc: float
    exact: float


def corpus_sentences(laws_path: Path) -> list[str]:
    """Sentence-like segments of every article, in corpus order."""
    laws = json.loads(laws_path.read_text(encoding="utf-8"))
    texts = [art["text"] for law in laws for art in law["articles"]]
    return [seg for text in texts for seg in split_segments(text)]


def held_out_split(sentences: list[str], k: int, seed: int) -> tuple[list[str], list[str]]:
    """k distinct sentences (>= 5 syllables) held out; training drops every copy."""
    eligible = sorted({s for s in sentences if len(words(s)) >= 5})
    held = random.Random(seed).sample(eligible, k)
    held_set = set(held)
    return [s for s in sentences if s not in held_set], held


def evaluate(model: DiacriticRestorer, sentences: list[str]) -> Score:
    """Fold each sentence, restore it, compare syllables with the original."""
    right = total = exact = 0
    for sentence in sentences:
        gold = words(sentence)
        got = words(model.restore(fold(sentence)))
        if len(got) != len(gold):
            raise AssertionError(f"token count changed: {sentence!r}")
        hits = sum(a == b for a, b in zip(got, gold, strict=True))
        right += hits
        total += len(gold)
        exact += hits == len(gold)
    return Score(right / max(total, 1), exact / max(len(sentences), 1))


def latency_ms(
    model: DiacriticRestorer, held: list[str], size: int = 30, repeats: int = 5
) -> list[float]:
    """Restore latency (ms) of each folded ``size``-syllable query.

    Each query is timed ``repeats`` times and its median kept, so that a busy
    machine's scheduling noise does not pass for slow queries.
    """
    syllables = [fold(w) for s in held for w in words(s)]
    queries = [" ".join(syllables[i : i + size]) for i in range(0, len(syllables) - size, size)]
    model.restore(queries[0])  # warm-up
    times = []
    for query in queries:
        runs = []
        for _ in range(repeats):
            start = time.perf_counter()
            model.restore(query)
            runs.append((time.perf_counter() - start) * 1000)
        times.append(statistics.median(runs))
    return times


def size_on_disk(model: DiacriticRestorer) -> int:
    """Bytes of the saved model."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "diacritics.npz"
        model.save(path)
        return path.stat().st_size


def fit_variant(name: str, train: list[str]) -> DiacriticRestorer:
    """Fit one variant on the training sentences (and the everyday phrases)."""
    kwargs = dict(VARIANTS[name])
    use = kwargs.pop("everyday", "mix")
    phrases = read_phrases()
    if use == "merge":
        return DiacriticRestorer.fit(train + phrases, **kwargs)
    return DiacriticRestorer.fit(train, extra_texts=phrases if use == "mix" else [], **kwargs)


def run_variant(
    name: str, train: list[str], held: list[str], sets: dict[str, list[str]]
) -> dict[str, float | str]:
    """Fit one variant and measure it on the held-out sentences and question sets."""
    start = time.perf_counter()
    model = fit_variant(name, train)
    row: dict[str, float | str] = {"variant": name, "fit s": time.perf_counter() - start}
    for set_name, sentences in {"held": held, **sets}.items():
        score = evaluate(model, sentences)
        row[f"{set_name} syl"] = score.syllable_acc
        row[f"{set_name} sent"] = score.exact
    times = sorted(latency_ms(model, held))
    row["size MB"] = size_on_disk(model) / 1e6
    row["p50 ms"] = statistics.median(times)
    row["p95 ms"] = times[int(0.95 * (len(times) - 1))]
    return row


def print_table(rows: list[dict[str, float | str]]) -> None:
    """Plain-text table, one row per variant."""
    headers = list(rows[0])
    print("| " + " | ".join(headers) + " |")
    print("|" + "---|" * len(headers))
    for row in rows:
        cells = [v if isinstance(v, str) else f"{v:.4f}" for v in row.values()]
        print("| " + " | ".join(cells) + " |")


def main() -> None:
    """Parse arguments, run the variants, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--laws", type=Path, help="laws.json (default: knowledge.laws_file())")
    parser.add_argument("--questions", type=Path, default=DATA / "questions-dev.json")
    parser.add_argument("--colloquial", type=Path, default=COLLOQUIAL)
    parser.add_argument("--variants", default="all", help="comma-separated names or all")
    args = parser.parse_args()
    names = list(VARIANTS) if args.variants == "all" else args.variants.split(",")
    train, held = held_out_split(corpus_sentences(args.laws or laws_file()), HELD_OUT, SEED)
    sets = {
        name: [q["text"] for q in json.loads(path.read_text(encoding="utf-8"))]
        for name, path in (("dev-q", args.questions), ("colloq", args.colloquial))
        if path.exists()
    }
    sizes = ", ".join(f"{k}: {len(v)}" for k, v in sets.items())
    print(f"train segments: {len(train)}, held-out sentences: {len(held)}, {sizes}")
    print_table([run_variant(name, train, held, sets) for name in names])


if __name__ == "__main__":
    main()
