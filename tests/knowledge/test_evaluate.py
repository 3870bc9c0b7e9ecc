import json

import pytest

from knowledge.evaluate import (
    QuestionFileError,
    evaluate,
    load_questions,
    percentile,
    score_ranking,
)

GOLD = {("Luật A", "1"), ("Luật A", "2")}


def test_percentile_is_nearest_rank():
    values = list(range(1, 101))
    assert percentile(values, 50) == 50
    assert percentile(values, 95) == 95
    assert percentile([7.0], 95) == 7.0
    assert percentile([], 50) == 0.0


def test_recall_counts_the_share_of_gold_articles_found():
    ranked = [("Luật B", "9"), ("Luật A", "2"), ("Luật A", "1")]
    recall, rr = score_ranking(ranked, GOLD, (1, 5, 10))
    assert recall == {1: 0.0, 5: 1.0, 10: 1.0}
    assert rr == 0.5


def test_evaluate_skips_questions_without_gold_and_uses_the_depth(tmp_path):
    rows = [
        {"id": "1", "text": "a", "relevant": [{"law_id": "Luật A", "article_id": "1"}]},
        {"id": "2", "text": "b", "relevant": []},
    ]
    path = tmp_path / "q.json"
    path.write_text(json.dumps(rows))
    depths = []

    def rank(text, k):
        depths.append(k)
        return [("Luật B", "1")] * 5 + [("Luật A", "1")]

    report = evaluate(load_questions(path), rank, k=5)
    assert report.n == 1 and depths == [5]
    assert report.mrr10 == pytest.approx(1 / 6)  # rank() ignored the depth; scoring did not
    assert report.recall[5] == 0.0 and report.recall[10] == 1.0


def test_malformed_question_files_are_refused(tmp_path):
    for content in ('{"a": 1}', '[{"text": 1}]', "not json"):
        path = tmp_path / "bad.json"
        path.write_text(content)
        with pytest.raises(QuestionFileError):
            load_questions(path)
