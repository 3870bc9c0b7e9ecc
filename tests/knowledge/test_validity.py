"""Legal validity: what a citation says about the text it quotes, on the day it is asked."""

from __future__ import annotations

import dataclasses
import json
from datetime import date

import pytest

from knowledge import Searcher, laws_file
from knowledge.documents import DocumentError, load_laws_json
from knowledge.documents.metadata import _validate_metadata
from knowledge.sources import extra_laws_file, law_departments, law_metadata
from knowledge.validity import EXPIRED, IN_FORCE, NOT_YET, source_label, validity

DAY = date(2026, 12, 7)


def test_in_force_with_a_known_gap_says_the_gap():
    v = validity(effective="2024-08-01", note="Chưa cập nhật sửa đổi năm 2025.", today=DAY)
    assert v.status == IN_FORCE and v.usable and v.line == "Chưa cập nhật sửa đổi năm 2025."
    assert validity(effective="2024-08-01", today=DAY).line is None


def test_a_replacement_date_is_said_before_and_the_text_expires_on_it():
    meta = {"effective": "2016-01-01", "expires": "2027-03-01",
            "replaced_by": "Luật Hộ tịch số 03/2026/QH16", "note": "Ghi chú."}
    before = validity(**meta, today=DAY)
    assert before.status == IN_FORCE and before.usable
    assert before.line == ("Văn bản này áp dụng đến hết 28/02/2027; sau đó áp dụng Luật Hộ tịch "
                           "số 03/2026/QH16. Ghi chú.")
    after = validity(**meta, today=date(2027, 3, 1))
    assert after.status == EXPIRED and not after.usable and after.label == "Hết hiệu lực"
    assert after.line == ("Văn bản này đã hết hiệu lực từ 01/03/2027, thay bằng Luật Hộ tịch số "
                          "03/2026/QH16.")


def test_only_an_expired_text_is_unusable_drafts_and_future_laws_say_what_they_are():
    future = validity(effective="2027-01-01", today=DAY)
    assert future.status == NOT_YET and future.usable
    assert future.line == "Văn bản này có hiệu lực từ 01/01/2027."
    draft = validity(status="draft", today=DAY)
    assert draft.usable and draft.line == "Đây là dự thảo, chưa có hiệu lực."
    assert not validity(status="expired", today=DAY).usable


def test_source_label():
    assert source_label("31/2024/QH15", "2024-08-01") == "số 31/2024/QH15, hiệu lực từ 01/08/2024"
    assert source_label("Hiến pháp năm 2013", None) == "Hiến pháp năm 2013"
    assert source_label(None, None) is None


def test_laws_take_number_dates_and_note_from_the_metadata(tmp_path):
    laws = tmp_path / "laws.json"
    laws.write_text(json.dumps([{"id": "Luật Hộ tịch 2014", "articles": [
        {"id": "1", "text": "Phạm vi điều chỉnh\n\nLuật này quy định về hộ tịch."}]}]))
    meta = {"Luật Hộ tịch 2014": {"number": "60/2014/QH13", "effective": "01/01/2016",
                                  "expires": "2027-03-01", "note": "Ghi chú."}}
    (doc,) = load_laws_json(laws, metadata_of=meta.get)
    assert (doc.number, doc.effective, doc.expires, doc.note, doc.status) == (
        "60/2014/QH13", "2016-01-01", "2027-03-01", "Ghi chú.", "in_force")
    with pytest.raises(DocumentError, match="expires"):
        load_laws_json(laws, metadata_of={"Luật Hộ tịch 2014": {"expires": "sắp tới"}}.get)


def test_every_default_law_has_valid_metadata_and_an_owner():
    ids = {law["id"] for path in (laws_file(), extra_laws_file())
           for law in json.loads(path.read_text(encoding="utf-8"))}
    assert len(ids) == 34
    metadata, owners = law_metadata(), law_departments()
    assert set(metadata) == ids and set(owners) == ids
    for law_id, meta in metadata.items():
        checked = _validate_metadata(meta, law_id)
        assert checked.get("number") and checked.get("effective"), law_id
        note = checked.get("note") or ""
        assert len(note) <= 200, law_id  # one short line under an answer


def test_an_expired_text_is_never_the_basis_of_a_confident_answer(small_index, encoder):
    searcher = Searcher(small_index, encoder=encoder)
    question = "Nam từ đủ 20 tuổi, nữ từ đủ 18 tuổi thì được kết hôn"
    result = searcher.search(question, 3)
    assert result.confident
    law = result.hits[0].passage.doc_id
    searcher.passages = [
        dataclasses.replace(p, expires="2020-01-01", replaced_by="Luật mới")
        if p.doc_id == law else p for p in searcher.passages
    ]
    again = searcher.search(question, 3)
    assert again.hits[0].passage.doc_id == law and not again.confident
    shown = again.hits[0].to_dict()["validity"]
    assert shown["status"] == EXPIRED
    assert shown["line"] == "Văn bản này đã hết hiệu lực từ 01/01/2020, thay bằng Luật mới."
