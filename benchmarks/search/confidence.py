"""How trustworthy is the ``confident`` flag? Precision and coverage per question set.

Precision: among questions flagged confident, the share whose first hit is a gold
article. Coverage: the share of questions flagged confident. For out-of-scope
questions (no gold article) every confident flag is a false alarm.

    .venv/bin/python -m benchmarks.search.confidence
"""

from __future__ import annotations

from benchmarks.common import DATA, publish, question_sets
from knowledge import Question, Searcher, load_questions
from vietnamese import fold


def measure(searcher: Searcher, name: str, questions: list[Question]) -> dict:
    confident = right = right_confident = 0
    for q in questions:
        result = searcher.search(q.text, 1)
        top = result.hits[0].passage if result.hits else None
        ok = bool(top and (top.doc_id, top.article_id) in q.gold)
        confident += result.confident
        right += ok
        right_confident += ok and result.confident
    n = len(questions)
    return {
        "set": name,
        "n": n,
        "top-1 right": f"{right / n:.2f}",
        "confident": f"{confident / n:.2f}",
        "precision when confident": f"{right_confident / confident:.2f}" if confident else "–",
    }


def main() -> None:
    searcher = Searcher()
    sets = question_sets()
    for name in ("out-of-scope", "out-of-coverage-dev", "out-of-coverage-test"):
        qs = load_questions(DATA / f"{name}.json")
        sets[name] = qs
        sets[f"{name} (không dấu)"] = [Question(q.qid, fold(q.text), q.gold) for q in qs]
    rows = [measure(searcher, name, qs) for name, qs in sets.items()]
    publish("confidence", rows)
    print(f"\nCalibration: {searcher.calibration}")


if __name__ == "__main__":
    main()
