import json

from knowledge.sources import Sources


def test_sources_refuse_a_second_document_with_the_same_id(tmp_path):
    laws = [{"id": "Luật Cư trú 2020", "articles": [{"id": "1", "text": "Phạm vi\n\nNội dung."}]}]
    (tmp_path / "laws.json").write_text(json.dumps(laws, ensure_ascii=False))
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.md").write_text("Điều 1. Tiêu đề\n\nNội dung của tỉnh.")
    (docs / "a.md.meta.json").write_text(json.dumps({"id": "Luật Cư trú 2020"}))
    (docs / "b.md").write_text("Điều 1. Khác\n\nMột văn bản khác.")
    found, errors = Sources(laws=(tmp_path / "laws.json",), folders=(docs,)).load()
    assert [d.doc_id for d in found] == ["Luật Cư trú 2020", "b"]
    assert len(errors) == 1 and "Luật Cư trú 2020" in str(errors[0])
    assert found[0].department == "cong-an"  # from knowledge/corpus/law_departments.json
