"""Builds a real index (real e5 model, FAISS, BM25, restorer) over a subset of the corpus."""

import shutil

import pytest

from knowledge.index import build_index
from knowledge.search import Searcher
from knowledge.sources import Sources
from tests.conftest import LOCAL_POLICY


@pytest.fixture(scope="module")
def searcher(small_index, encoder) -> Searcher:
    return Searcher(small_index, encoder=encoder)


def _top_articles(searcher: Searcher, text: str, k: int = 3) -> list[tuple[str, str]]:
    return [(h.passage.doc_id, h.passage.article_id) for h in searcher.search(text, k).hits]


RESIDENCE = ("Luật Cư trú 2020", "20")
MARRIAGE_AGE = ("Luật Hôn nhân và gia đình 2014", "8")


@pytest.mark.parametrize(
    ("text", "article"),
    [
        ("Điều kiện đăng ký thường trú tại chỗ ở hợp pháp thuộc quyền sở hữu của mình là gì?",
         RESIDENCE),
        ("dieu kien dang ky thuong tru tai cho o hop phap thuoc quyen so huu cua minh", RESIDENCE),
        ("Nam từ đủ bao nhiêu tuổi thì được kết hôn?", MARRIAGE_AGE),
        ("nam bao nhieu tuoi thi duoc lay vo", MARRIAGE_AGE),
    ],
)
def test_a_question_finds_its_article_with_or_without_accents(searcher, text, article):
    assert article in _top_articles(searcher, text)


def test_hits_carry_citation_department_and_scores(searcher):
    result = searcher.search("hộ nghèo được hỗ trợ làm chuồng trâu bò bao nhiêu tiền", 5)
    top = result.hits[0]
    assert (top.passage.doc_id, top.passage.article_id) == ("qd-chuong-trai", "1")
    assert top.passage.department == "nong-nghiep-moi-truong"
    assert top.passage.status == "draft"
    assert top.passage.citation == "Điều 1 Quyết định hỗ trợ chuồng trại"
    assert [h.score for h in result.hits] == sorted((h.score for h in result.hits), reverse=True)
    assert len({(h.passage.doc_id, h.passage.article_id) for h in result.hits}) == 5


def test_confident_on_clear_question_not_on_unrelated_one(searcher):
    assert searcher.search("Nam từ đủ 20 tuổi, nữ từ đủ 18 tuổi thì được kết hôn", 5).confident
    assert not searcher.search("tối nay đội tuyển bóng đá đá mấy giờ", 5).confident


def test_empty_or_symbol_query_returns_nothing(searcher):
    result = searcher.search("?!…", 5)
    assert result.hits == [] and not result.confident


def test_rebuild_is_incremental(small_corpus, small_index, model_dir, encoder, tmp_path):
    corpus_root = small_corpus.folders[0].parent
    shutil.copytree(corpus_root, tmp_path / "corpus")
    shutil.copytree(small_index, tmp_path / "index")
    corpus = Sources(
        laws=(tmp_path / "corpus" / "laws.json",),
        folders=(tmp_path / "corpus" / "docs",),
        samples=(tmp_path / "corpus" / "samples",),
    )
    index = tmp_path / "index"
    again = build_index(index, corpus, model_dir=model_dir, progress=False)
    assert again.up_to_date and again.embedded == 0
    policy = corpus.folders[0] / "ho-tro-chuong-trai.md"
    policy.write_text(LOCAL_POLICY.replace("5 triệu đồng", "7 triệu đồng"))
    changed = build_index(index, corpus, model_dir=model_dir, progress=False)
    assert changed.changed == ["qd-chuong-trai"]
    assert 0 < changed.embedded <= 2
    fresh = Searcher(index, encoder=encoder)
    top = fresh.search("hỗ trợ làm chuồng trại cho hộ nghèo bao nhiêu tiền", 1).hits[0]
    assert "7 triệu đồng" in top.passage.text
    policy.unlink()
    removed = build_index(index, corpus, model_dir=model_dir, progress=False)
    assert removed.removed == ["qd-chuong-trai"] and removed.embedded == 0
    assert all(p.doc_id != "qd-chuong-trai" for p in Searcher(index, encoder=encoder).passages)


def test_changing_bm25_parameters_rebuilds_without_reencoding(
    small_corpus, small_index, model_dir, tmp_path, monkeypatch
):
    from knowledge import sparse

    index = tmp_path / "index"
    shutil.copytree(small_index, index)
    monkeypatch.setattr(sparse, "B", sparse.B + 0.1)
    report = build_index(index, small_corpus, model_dir=model_dir, progress=False)
    assert not report.up_to_date and report.embedded == 0 and report.changed == []


def test_build_indexes_the_sample_questions_and_reports_unknown_articles(small_index):
    from knowledge.index import read_manifest

    manifest = read_manifest(small_index)
    assert manifest["sample_questions"] > 500  # three laws' shipped samples + the local one
    rows = [line for line in (small_index / "samples.jsonl").open(encoding="utf-8")]
    assert len(rows) == manifest["sample_questions"]
    assert not any('"article_id": "9"' in r and "qd-chuong-trai" in r for r in rows)


def test_a_citizen_question_meets_its_article_through_a_sample(searcher):
    """Article 2 of the local policy ("Hồ sơ": an application confirmed by the commune) shares
    almost no words with how a citizen asks for it; its sample question does."""
    text = "nhà e định xin tiền làm chuồng cho trâu thì phải nộp giấy tờ gì, ai ký cho ạ"
    from dataclasses import replace

    statute_only = replace(searcher.tuning, citizen=searcher.tuning.statute)
    without = Searcher(searcher.folder, encoder=searcher.encoder, tuning=statute_only)
    assert _top_articles(without, text, 1) != [("qd-chuong-trai", "2")]
    assert _top_articles(searcher, text, 1) == [("qd-chuong-trai", "2")]


def test_changing_one_sample_question_encodes_only_it(small_corpus, small_index, model_dir,
                                                      tmp_path):
    from dataclasses import replace

    shutil.copytree(small_corpus.samples[0], tmp_path / "samples")
    shutil.copytree(small_index, tmp_path / "index")
    corpus = replace(small_corpus, samples=(tmp_path / "samples",))
    index = tmp_path / "index"
    assert build_index(index, corpus, model_dir=model_dir, progress=False).up_to_date
    local = tmp_path / "samples" / "qd-chuong-trai.jsonl"
    local.write_text(local.read_text(encoding="utf-8").replace("chuồng trâu", "chuồng bò"),
                     encoding="utf-8")
    edited = build_index(index, corpus, model_dir=model_dir, progress=False)
    assert not edited.up_to_date and edited.changed == [] and edited.embedded == 1
    assert any("chuồng bò" in line for line in (index / "samples.jsonl").open(encoding="utf-8"))
    local.unlink()
    removed = build_index(index, corpus, model_dir=model_dir, progress=False)
    assert removed.embedded == 0 and removed.samples == edited.samples - 1
    assert not any("qd-chuong-trai" in line for line in (index / "samples.jsonl").open())


def test_an_index_without_sample_questions_ranks_by_the_text_alone(small_corpus, model_dir,
                                                                     encoder, tmp_path):
    """A province that indexes only its own documents, with no sample questions yet."""
    from dataclasses import replace

    corpus = replace(small_corpus, laws=(), samples=())
    report = build_index(tmp_path / "index", corpus, model_dir=model_dir, progress=False)
    assert report.samples == 0 and report.passages == 2
    bare = Searcher(tmp_path / "index", encoder=encoder)
    assert bare.samples.size == 0
    result = bare.search("nhà e định xin tiền làm chuồng cho trâu thì phải nộp giấy tờ gì", 2)
    assert {(h.passage.doc_id, h.passage.article_id) for h in result.hits} == {
        ("qd-chuong-trai", "1"), ("qd-chuong-trai", "2")}
    assert result.signals is not None and result.signals.gate == 0.0


def test_weights_on_the_samples_for_statute_like_questions_are_honoured(searcher):
    """Samples are skipped only when the weights in force give them nothing; a tuning that
    ranks by the samples alone (the "samples" row of benchmarks/search/retrieval.py) still uses
    them for a question worded like the statute."""
    from dataclasses import replace

    from knowledge.search import Weights

    only = Weights(dense=0.0, title=0.0, sample=2 / 3, sample_bm25=1 / 3)
    by_samples = Searcher(searcher.folder, encoder=searcher.encoder,
                          tuning=replace(searcher.tuning, statute=only, citizen=only))
    result = by_samples.search("Nam từ đủ bao nhiêu tuổi thì được kết hôn?", 3)
    assert result.signals is not None and result.signals.gate == 0.0
    assert result.hits[0].score > 0
    assert ("Luật Hôn nhân và gia đình 2014", "8") in {
        (h.passage.doc_id, h.passage.article_id) for h in result.hits}
