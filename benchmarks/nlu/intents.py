"""Rasa NLU: intent macro-F1 on a grouped 80/20 split and on a hand-written held-out file.

    .venv/bin/python -m benchmarks.nlu.intents          # two trainings: split and full-data model
    .venv/bin/python -m benchmarks.nlu.intents --quick  # one training: split model on held-out
    .venv/bin/python -m benchmarks.nlu.intents --quick --draws 3  # the shipped figure

Split: every example of ``bot/data/nlu`` is reduced to a *template* (entity markup removed,
diacritics folded, chat spellings spelled out, as ``vietnamese.canonical`` does), so
"không cần" / "khong can" / "ko cần" are one template. Templates, not examples, are split 80/20
per intent with a fixed seed: an example and its unaccented copy never land on different sides
(otherwise the score is inflated). The split model is trained with ``rasa train nlu`` on the 80%,
and ``rasa test nlu`` reads the 20%.

Held-out: ``benchmarks/data/nlu-heldout.yml``, messages written for this test and never copied into
training data; read by a model trained on all of ``bot/data/nlu`` (what ``rasa train`` ships).
That is the honest figure.

Both test sets are read twice: as written, and with a folded copy ("no diacritics") of every
accented message added. The table gives macro-F1 (as ``rasa test nlu`` computes it: labels are
the union of true and predicted intents, so ``nlu_fallback`` counts as a wrong class) and
accuracy, for all messages, those with diacritics and those without, and the training time
(wall clock, on whatever the machine has: the load average is printed with it; and CPU seconds,
which do not depend on the load).
Models and Rasa's reports go to a temporary directory (``--keep DIR`` keeps them).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from benchmarks.common import REPO, publish
from scripts.nlu_data import ENTITY, load, plain
from scripts.stack import rasa_env
from vietnamese import canonical, fold

BOT = REPO / "bot"
RASA = REPO / ".venv-rasa" / "bin" / "rasa"
NLU_DIR = BOT / "data" / "nlu"
CONFIG = BOT / "config.yml"  # the shipped pipeline
HELDOUT = REPO / "benchmarks" / "data" / "nlu-heldout.yml"
# questions that must stay questions: citizens' colloquial ones, and the legal dev questions
QUESTION_SETS = {
    "colloquial → ask_policy": REPO / "benchmarks" / "data" / "colloquial-dev.json",
    "legal dev → ask_policy": REPO.parent / "shared" / "data" / "legal" / "questions-dev.json",
}
SEED = 42
TEST_SHARE = 0.2

_WORD = re.compile(r"\w+")


def template(example: str) -> str:
    """What near-duplicates share: folded, de-slanged words of the plain text."""
    return " ".join(canonical(w) for w in _WORD.findall(plain(example)))


def fold_example(example: str) -> str:
    """The example as typed without diacritics; entity labels and JSON values are kept."""
    out, last = [], 0
    for m in ENTITY.finditer(example):
        out.append(fold(example[last:m.start()]))
        out.append(f"[{fold(m.group(1))}]{m.group(2)}")
        last = m.end()
    out.append(fold(example[last:]))
    return "".join(out)


def accented(example: str) -> bool:
    text = plain(example)
    return fold(text) != text.lower()


def dump(path: Path, examples: dict[str, list[str]], other: list[dict] = ()) -> None:
    """Rasa YAML; examples are written verbatim (entity markup intact)."""
    lines = ['version: "3.1"', "nlu:"]
    for intent, exs in examples.items():
        if exs:
            lines += [f"- intent: {intent}", "  examples: |"] + [f"    - {e}" for e in exs]
    for item in other:
        kind = next(k for k in ("regex", "lookup", "synonym") if k in item)
        lines += [f"- {kind}: {item[kind]}", "  examples: |"]
        lines += [f"    {ln}" for ln in item["examples"].splitlines() if ln.strip()]
    path.write_text("\n".join(lines) + "\n")


def split(examples: dict[str, list[str]], seed: int = SEED) -> tuple[dict, dict]:
    """80/20 by template, per intent, fixed seed; a template goes wholly to one side."""
    rng = random.Random(seed)
    side: dict[str, str] = {}
    for intent in sorted(examples):
        templates = sorted({template(e) for e in examples[intent]} - side.keys())
        rng.shuffle(templates)
        n_test = max(1, round(TEST_SHARE * len(templates)))
        for i, t in enumerate(templates):
            side[t] = "test" if i < n_test else "train"
    train: dict[str, list[str]] = defaultdict(list)
    test: dict[str, list[str]] = defaultdict(list)
    for intent, exs in examples.items():
        for e in exs:
            (test if side[template(e)] == "test" else train)[intent].append(e)
    return train, test


def with_folded_copies(examples: dict[str, list[str]]) -> dict[str, list[str]]:
    """Each accented message, plus its folded copy unless the set already has that text."""
    out = {}
    for intent, exs in examples.items():
        seen = {plain(e).lower() for e in exs}
        out[intent] = list(exs) + [fold_example(e) for e in exs
                                   if accented(e) and plain(fold_example(e)) not in seen]
    return out


def rasa(*args: str) -> None:
    env = rasa_env(TF_CPP_MIN_LOG_LEVEL="3")  # as make run: bot/ and the repository importable
    proc = subprocess.run([str(RASA), *args], cwd=BOT, env=env, capture_output=True, text=True)
    if proc.returncode:
        sys.exit(f"rasa {' '.join(args)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def train(nlu: Path, out: Path, config: Path = CONFIG) -> tuple[Path, tuple[float, float]]:
    """The model, and (wall clock, CPU) seconds of training: CPU time does not depend on how
    busy the shared machine is."""
    start, cpu = time.perf_counter(), cpu_seconds()
    rasa("train", "nlu", "--nlu", str(nlu), "--config", str(config), "--domain", "domain",
         "--out", str(out), "--fixed-model-name", "nlu")
    return out / "nlu.tar.gz", (time.perf_counter() - start, cpu_seconds() - cpu)


def evaluate(model: Path, nlu: Path, out: Path) -> list[dict]:
    """Per-message results of ``rasa test nlu``: text, intent, predicted intent."""
    rasa("test", "nlu", "--model", str(model), "--nlu", str(nlu), "--domain", "domain",
         "--out", str(out), "--successes", "--no-plot")
    rows = []
    for name in ("intent_successes.json", "intent_errors.json"):
        path = out / name
        if path.exists():
            rows += json.loads(path.read_text())
    return rows


def scores(rows: list[dict]) -> tuple[float, float]:
    """Macro-F1 over the union of true and predicted labels (sklearn's and Rasa's way), accuracy."""
    pairs = [(r["intent"], r["intent_prediction"]["name"] or "") for r in rows]
    labels = {t for t, _ in pairs} | {p for _, p in pairs}
    f1s = []
    for label in labels:
        tp = sum(t == p == label for t, p in pairs)
        fp = sum(p == label != t for t, p in pairs)
        fn = sum(t == label != p for t, p in pairs)
        f1s.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    return sum(f1s) / len(f1s), sum(t == p for t, p in pairs) / len(pairs)


def confusions(rows: list[dict], top: int = 8) -> list[str]:
    counts: dict[tuple[str, str], int] = defaultdict(int)
    for r in rows:
        if r["intent"] != r["intent_prediction"]["name"]:
            counts[(r["intent"], r["intent_prediction"]["name"] or "")] += 1
    return [f"{n}× {t} → {p}" for (t, p), n in sorted(counts.items(), key=lambda x: -x[1])[:top]]


def report(name: str, rows: list[dict], train_s: tuple[float, float], n_train: int) -> dict:
    row = {"set": name, "train ex": n_train, "test msgs": len(rows)}
    for label, subset in (("", rows),
                          (" dấu", [r for r in rows if accented(r["text"])]),
                          (" không dấu", [r for r in rows if not accented(r["text"])])):
        f1, acc = scores(subset) if subset else (0.0, 0.0)
        row[f"F1{label}"] = f"{f1:.3f}"
        row[f"acc{label}"] = f"{acc:.3f}"
    row["train s"] = f"{train_s[0]:.0f}"
    row["train CPU s"] = f"{train_s[1]:.0f}"
    print(f"{name}: " + "; ".join(confusions(rows)) if confusions(rows) else f"{name}: no errors",
          flush=True)
    return row


def train_split(examples: dict[str, list[str]], other: list[dict], seed: int,
                work: Path, config: Path = CONFIG) -> tuple[Path, tuple[float, float], dict]:
    """Train on one 80/20 draw and test on its 20%: the model, its training time, the row."""
    train_ex, test_ex = split(examples, seed)
    tag = "" if seed == SEED else f"-{seed}"
    dump(work / f"train{tag}.yml", train_ex, other)
    dump(work / f"test{tag}.yml", with_folded_copies(test_ex))
    model, secs = train(work / f"train{tag}.yml", work / f"split-model{tag}", config)
    results = evaluate(model, work / f"test{tag}.yml", work / f"split-results{tag}")
    name = "split 80/20" if seed == SEED else f"split 80/20, seed {seed}"
    return model, secs, report(name, results, secs, sum(map(len, train_ex.values())))


def questions(path: Path) -> dict[str, list[str]]:
    """A question file (``[{"text": ...}]``) as ``ask_policy`` examples, with folded copies;
    brackets become parentheses so that Rasa does not read them as entity markup."""
    texts = [q["text"].replace("[", "(").replace("]", ")")
             for q in json.loads(path.read_text(encoding="utf-8"))]
    # rasa test nlu writes no intent report for a file of one intent: add one greeting,
    # which question_row leaves out
    return with_folded_copies({"ask_policy": texts, "greet": ["xin chào"]})


def question_row(name: str, rows: list[dict]) -> dict:
    """How many questions the model reads as questions, and what it reads the others as."""
    rows = [r for r in rows if r["intent"] == "ask_policy"]
    row = {"set": name, "test msgs": len(rows)}
    for label, subset in (("", rows),
                          (" dấu", [r for r in rows if accented(r["text"])]),
                          (" không dấu", [r for r in rows if not accented(r["text"])])):
        hits = sum(r["intent_prediction"]["name"] == "ask_policy" for r in subset)
        row[f"acc{label}"] = f"{hits}/{len(subset)}"
    print(f"{name}: " + ("; ".join(confusions(rows)) or "no errors"), flush=True)
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true",
                    help="one training: read the held-out file with the split model")
    ap.add_argument("--keep", type=Path, help="keep models and Rasa's reports in this directory")
    ap.add_argument("--draws", type=int, default=1, metavar="N",
                    help="train and test N different 80/20 draws (seeds 42, 43, …) and report "
                         "their mean: one draw moves by ±0.02–0.04 when a few examples change")
    ap.add_argument("--extra", type=Path, nargs="+", default=[], metavar="YML",
                    help="NLU files added to bot/data/nlu before the split (a data round not "
                         "shipped); results get the suffix _extra")
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="nlu-bench-")) if not args.keep else args.keep
    work.mkdir(parents=True, exist_ok=True)
    examples, other = load(sorted(NLU_DIR.glob("*.yml")) + args.extra)
    train_ex, test_ex = split(examples)
    heldout, _ = load([HELDOUT])
    dump(work / "heldout.yml", with_folded_copies(heldout))
    known = {template(e) for exs in examples.values() for e in exs}
    copied = [e for exs in heldout.values() for e in exs if template(e) in known]
    if copied:
        print(f"warning: {len(copied)} held-out messages are (near-)copies of training examples: "
              + "; ".join(copied[:10]), file=sys.stderr)
    n_all = sum(map(len, examples.values()))
    n_templates = len({template(e) for exs in examples.values() for e in exs})
    print(f"{n_all} examples, {n_templates} templates, {len(examples)} intents "
          f"(chitchat sub-intents counted); split: {sum(map(len, train_ex.values()))} train / "
          f"{sum(map(len, test_ex.values()))} test; held-out: "
          f"{sum(map(len, heldout.values()))} messages; {os.cpu_count()} CPUs, "
          f"load {os.getloadavg()[0]:.1f}", flush=True)

    rows = []
    model, secs, row = train_split(examples, other, SEED, work)
    rows.append(row)
    n_train = row["train ex"]
    if not args.quick:
        data = NLU_DIR
        if args.extra:
            data = work / "all-data.yml"
            dump(data, examples, other)
        model, secs = train(data, work / "full-model")
        n_train = n_all
    rows.append(report("held-out", evaluate(model, work / "heldout.yml", work / "heldout-results"),
                       secs, n_train))
    for name, path in QUESTION_SETS.items():
        if path.exists():
            slug = path.stem
            dump(work / f"{slug}.yml", questions(path))
            rows.append(question_row(name, evaluate(model, work / f"{slug}.yml",
                                                    work / f"{slug}-results")))
    split_f1 = [float(rows[0]["F1"])]
    for seed in range(SEED + 1, SEED + args.draws):
        rows.append(train_split(examples, other, seed, work)[2])
        split_f1.append(float(rows[-1]["F1"]))
    if args.draws > 1:
        mean = sum(split_f1) / len(split_f1)
        rows.append({"set": f"split, mean of {len(split_f1)} draws", "F1": f"{mean:.3f}",
                     "acc": f"min {min(split_f1):.3f}, max {max(split_f1):.3f}"})
    print(f"(load {os.getloadavg()[0]:.1f} at the end)")
    publish("nlu" + ("_extra" if args.extra else ""), rows)
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
