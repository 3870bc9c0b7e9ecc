from knowledge.documents import Article, Document
from knowledge.passages import chunk_article, passages

LONG_CLAUSE = " ".join(["từ"] * 150)


def _doc(*articles: Article) -> Document:
    return Document(
        doc_id="Luật Thử 2024",
        title="Luật Thử 2024",
        number=None,
        issuer=None,
        issued=None,
        effective=None,
        status="in_force",
        source_url=None,
        department="tu-phap",
        articles=articles,
        content_hash="x",
    )


def test_short_article_is_one_passage():
    chunks = chunk_article("1. Khoản một.\n2. Khoản hai.", budget=200)
    assert chunks == [(None, "1. Khoản một.\n2. Khoản hai.")]


def test_long_article_splits_by_clause_and_keeps_points_with_their_clause():
    body = "\n".join(
        [
            "Lời dẫn của điều.",
            f"1. {LONG_CLAUSE}",
            "a) điểm a của khoản 1;",
            f"2. {LONG_CLAUSE}",
            f"3. {LONG_CLAUSE}",
        ]
    )
    chunks = chunk_article(body, budget=200)
    assert [label for label, _ in chunks] == ["1", "2", "3"]
    assert chunks[0][1].startswith("Lời dẫn của điều.")
    assert "a) điểm a của khoản 1;" in chunks[0][1]


def test_small_clauses_are_grouped_up_to_the_budget():
    body = "\n".join(f"{i}. " + " ".join(["chữ"] * 60) for i in range(1, 7))
    labels = [label for label, _ in chunk_article(body, budget=200)]
    assert labels == ["1-3", "4-6"]


def test_one_huge_clause_is_cut_at_sentence_ends():
    sentence = " ".join(["lời"] * 40) + "."
    body = "1. " + " ".join([sentence] * 12)
    chunks = chunk_article(body, budget=100)
    assert len(chunks) >= 4
    assert all(len(text.split()) <= 100 for _, text in chunks)
    assert all(label == "1" for label, _ in chunks)


def test_passages_carry_citation_and_department():
    doc = _doc(Article("20", "Điều kiện đăng ký thường trú", "Công dân có chỗ ở hợp pháp."))
    (p,) = passages([doc])
    assert p.citation == "Điều 20 Luật Thử 2024"
    assert p.department == "tu-phap"
    assert p.index_text.startswith("Luật Thử 2024 – Điều 20. Điều kiện đăng ký thường trú\n")


def test_passage_ids_are_stable_and_unique():
    body = "\n".join(f"{i}. {LONG_CLAUSE}" for i in range(1, 4))
    doc = _doc(Article("5", "Tiêu đề", body), Article("6", "Khác", "Nội dung."))
    ids = [p.passage_id for p in passages([doc])]
    assert len(ids) == len(set(ids)) == 4
    assert ids == [p.passage_id for p in passages([doc])]
