import numpy as np

from knowledge.sparse import SparseIndex, terms

DOCS = [
    "Đăng ký thường trú tại chỗ ở hợp pháp",
    "Chăn nuôi trâu bò phải có chuồng trại",
    "Ở đâu thì đăng ký tạm trú",
]


def test_terms_have_syllables_and_bigrams():
    assert terms("Đăng ký thường trú") == [
        "đăng",
        "ký",
        "thường",
        "trú",
        "đăng_ký",
        "ký_thường",
        "thường_trú",
    ]
    assert terms("Đăng ký", folded=True) == ["dang", "ky", "dang_ky"]


def test_accented_query_finds_its_document():
    index = SparseIndex.build(DOCS)
    scores = index.scores("thủ tục đăng ký thường trú", folded_weight=0.0)
    assert int(np.argmax(scores)) == 0


def test_unaccented_query_needs_the_folded_field():
    index = SparseIndex.build(DOCS)
    assert index.scores("chan nuoi trau bo", folded_weight=0.0).max() == 0
    assert int(np.argmax(index.scores("chan nuoi trau bo", folded_weight=1.0))) == 1


def test_save_and_load_round_trip(tmp_path):
    index = SparseIndex.build(DOCS)
    index.save(tmp_path)
    again = SparseIndex.load(tmp_path)
    q = "dang ky tam tru o dau"
    assert np.allclose(index.scores(q, folded_weight=1.0), again.scores(q, folded_weight=1.0))


def test_unknown_terms_score_zero():
    index = SparseIndex.build(DOCS)
    assert not index.scores("xyzzy", folded_weight=1.0).any()
