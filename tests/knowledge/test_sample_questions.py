"""Sample questions: reading the files, keeping the indexed articles, the gate, and the files
the product ships."""

import json
import unicodedata

import numpy as np
import pytest

from knowledge import laws_file, sample_questions
from knowledge.search import SIGNALS, Tuning, Weights, _Samples
from knowledge.sources import CORPUS, extra_laws_file
from tests.conftest import REPO, SHARED
from vietnamese import fold, words


def _write(path, rows):
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r, ensure_ascii=False)
                              for r in rows) + "\n", encoding="utf-8")


def test_a_bad_line_is_reported_with_its_number_and_the_rest_is_read(tmp_path):
    _write(tmp_path / "a.jsonl", [
        {"doc_id": "Luật Cư trú 2020", "article_id": "20", "questions": ["Nhập khẩu về nhà ck?"]},
        "{không phải json",
        {"doc_id": "", "article_id": "1", "questions": ["x"]},
        {"doc_id": "Luật Cư trú 2020", "article_id": "21", "questions": "một chuỗi"},
        {"doc_id": "Luật Cư trú 2020", "article_id": "22", "questions": ["x" * 501]},
        ["một", "danh sách"],
        {"doc_id": "Luật Cư trú 2020", "article_id": True, "questions": ["x"]},
        {"doc_id": "Luật Cư trú 2020", "article_id": 23, "questions": ["  ", "tạm trú ở đâu"]},
    ])
    found, errors = sample_questions.read_file(tmp_path / "a.jsonl")
    assert found == [
        sample_questions.Sample("Luật Cư trú 2020", "20", "Nhập khẩu về nhà ck?"),
        sample_questions.Sample("Luật Cư trú 2020", "23", "tạm trú ở đâu"),  # number read as text
    ]
    assert [str(e).split(":")[0] for e in errors] == [
        f"a.jsonl, dòng {n}" for n in (2, 3, 4, 5, 6, 7)
    ]
    assert "JSON" in str(errors[0]) and "doc_id" in str(errors[1])
    assert "500" in str(errors[3])


def test_text_is_normalised_and_repeats_dropped_across_files(tmp_path):
    decomposed = unicodedata.normalize("NFD", "Hoà giải ở thôn")
    _write(tmp_path / "b.jsonl", [{"doc_id": "d", "article_id": "1", "questions": [decomposed]}])
    _write(tmp_path / "a.jsonl", [{"doc_id": "d", "article_id": "1",
                                   "questions": ["Hòa giải ở thôn", "khác"]}])
    found, errors = sample_questions.load([tmp_path, tmp_path / "missing"])
    assert not errors
    assert [s.text for s in found] == ["Hòa giải ở thôn", "khác"]  # a.jsonl first, one copy


def test_samples_of_articles_not_indexed_are_dropped_with_a_note():
    found = [sample_questions.Sample("d", "1", "a"), sample_questions.Sample("d", "9", "b"),
             sample_questions.Sample("x", "1", "c"), sample_questions.Sample("y", "1", "d")]
    kept, notes = sample_questions.for_articles(found, {("d", "1")})
    assert kept == found[:1]
    assert notes == [
        "1 câu hỏi mẫu của “d” chỉ tới điều không có trong văn bản: bỏ qua.",
        "2 câu hỏi mẫu của văn bản không có trong chỉ mục (“x”, “y”): bỏ qua.",
    ]


def test_the_gate_moves_from_statute_to_citizen_weights():
    t = Tuning(gate_low=0.01, gate_high=0.05)
    assert t.gate(float("nan"), 0.9) == 0.0  # an index without sample questions
    assert t.gate(0.90, 0.90) == 0.0
    assert t.gate(0.93, 0.90) == pytest.approx(0.5)
    assert t.gate(0.99, 0.90) == 1.0
    assert np.allclose(t.weights(0.0), t.statute.vector())
    assert np.allclose(t.weights(1.0), t.citizen.vector())
    for g in (0.0, 0.3, 1.0):
        assert t.weights(g).sum() == pytest.approx(1.0)
    assert len(Weights(dense=0.5, title=0.1).vector()) == len(SIGNALS)


def test_each_article_gets_its_closest_sample_and_nan_without_any():
    article = np.array([2, 0, 2, 2])
    vectors = np.eye(4, dtype=np.float32)
    group = _Samples(article, vectors, None, n_articles=4)
    best = group.dense(np.array([0.1, 0.2, 0.3, 0.9], np.float32))
    assert best[0] == pytest.approx(0.2)  # the only sample of article 0 is row 1
    assert best[2] == pytest.approx(0.9)  # max of rows 0, 2, 3
    assert np.isnan(best[1]) and np.isnan(best[3])
    assert np.isnan(group.bm25("bất kỳ", 0.3)).all()  # no BM25 field: nothing to say


# The files the product ships -------------------------------------------------------------

SHIPPED = sorted((CORPUS / "samples").glob("*.jsonl"))


def test_shipped_samples_read_cleanly_and_cover_every_article_of_the_laws():
    found, errors = sample_questions.load([CORPUS / "samples"])
    assert SHIPPED and not errors
    laws = [law for path in (laws_file(), extra_laws_file())
            for law in json.loads(path.read_text(encoding="utf-8"))]
    articles = {(law["id"], a["id"]) for law in laws for a in law["articles"]}
    assert len(articles) == 2593 + 1265
    covered = {s.article for s in found}
    assert covered <= articles
    assert len(covered) == len(articles)  # at least one sample question per article
    for path in SHIPPED:
        text = path.read_text(encoding="utf-8")
        assert unicodedata.normalize("NFC", text) == text, path.name


def _folded_words(text: str) -> tuple[str, ...]:
    return tuple(words(fold(text)))


@pytest.mark.parametrize("path", [
    REPO / "benchmarks" / "data" / "colloquial-dev.json",
    REPO / "benchmarks" / "data" / "colloquial-test.json",
    REPO / "benchmarks" / "data" / "everyday-dev.json",
    REPO / "benchmarks" / "data" / "out-of-coverage-dev.json",
    REPO / "benchmarks" / "data" / "out-of-coverage-test.json",
    SHARED / "data" / "legal" / "questions-dev.json",
    SHARED / "data" / "eval" / "alqac-test.json",
    SHARED / "data" / "eval" / "external-questions.json",
])
def test_no_evaluation_question_is_a_sample(path):
    """The sample questions were written from the laws alone; an evaluation question copied
    into them would make the benchmark figures meaningless."""
    found, _ = sample_questions.load([CORPUS / "samples"])
    shipped = {_folded_words(s.text) for s in found}
    copies = [q["text"] for q in json.loads(path.read_text(encoding="utf-8"))
              if _folded_words(q["text"]) in shipped]
    assert copies == []
