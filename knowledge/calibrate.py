"""Fit the ``confident`` flag on questions with known answers and unanswerable ones.

Each question is asked as written and with its diacritics stripped. A question
counts as correctly answered when the first hit is one of its gold articles; a
question with no gold article (out of scope) is never correctly answered, so the
flag learns to stay down when the corpus has nothing to say.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from tqdm import tqdm

from knowledge.evaluate import load_questions
from knowledge.fuse import Calibration, Signals, fit_calibration
from knowledge.search import Searcher
from vietnamese import fold


def collect(
    searcher: Searcher, files: Sequence[Path]
) -> tuple[list[Signals], list[bool], list[bool]]:
    """Signals of the ranking, whether rank 1 was right, and whether the question has an
    answer in the corpus at all, for every question form."""
    signals: list[Signals] = []
    correct: list[bool] = []
    answerable: list[bool] = []
    questions = [q for f in files for q in load_questions(f)]
    for q in tqdm(questions, desc="Hiệu chỉnh", unit="câu"):
        for text in {q.text, fold(q.text)}:
            result = searcher.search(text, 1)
            if result.signals is None:
                continue
            top = result.hits[0].passage if result.hits else None
            signals.append(result.signals)
            correct.append(bool(top and (top.doc_id, top.article_id) in q.gold))
            answerable.append(bool(q.gold))
    return signals, correct, answerable


def calibrate(searcher: Searcher, files: Sequence[Path]) -> Calibration:
    signals, correct, answerable = collect(searcher, files)
    return fit_calibration(signals, correct, answerable=answerable)
