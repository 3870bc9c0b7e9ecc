"""The one chat-spelling table: both readers read it, each only its own rows."""

import pytest

from vietnamese import canonical, is_unaccented, nlu_spellings, search_spellings
from vietnamese.spellings import read_table


def test_the_search_spells_out_its_rows_and_not_the_classifiers():
    pairs = dict(search_spellings())
    assert pairs["ko"] == "không" and pairs["bhxh"] == "bảo hiểm xã hội"
    assert pairs["hong"] == "không"  # search only: for the classifier "hong" may be "hỏng"
    assert "tks" not in pairs and "oke" not in pairs  # classifier only: no search term


def test_the_classifier_folds_its_rows_and_not_the_searchs():
    table = nlu_spellings()
    assert table["ko"] == table["k"] == table["khum"] == "khong"
    assert table["tks"] == "cam on" and table["dc"] == "duoc"
    assert "hong" not in table and "bhxh" not in table and "bn" not in table


def test_the_two_readers_differ_on_bjo_on_purpose():
    assert dict(search_spellings())["bjo"] == "bây giờ"
    assert nlu_spellings()["bjo"] == "bao gio"


def test_canonical_folds_collapses_repeats_and_spells_out():
    assert canonical("Đc") == "duoc"
    assert canonical("khôngggg") == "khong"
    assert canonical("ko") == "khong" and canonical("ko", chat_spellings=False) == "ko"


def test_a_malformed_row_names_its_line(tmp_path):
    path = tmp_path / "chat_spellings.tsv"
    path.write_text("# header\nko\tkhông\tboth\nbn\tbao nhiêu\n", encoding="utf-8")
    with pytest.raises(ValueError, match="chat_spellings.tsv:3"):
        read_table(path)
    path.write_text("ko\tkhông\tsometimes\n", encoding="utf-8")
    with pytest.raises(ValueError, match=":1"):
        read_table(path)


def test_one_threshold_for_typed_without_diacritics():
    assert is_unaccented("cho e hoi thu tuc dang ky thuong tru")
    assert not is_unaccented("cho em hỏi thủ tục đăng ký thường trú")
    # mostly unaccented with one accented word: still read as unaccented
    assert is_unaccented("cho e hỏi thu tuc dang ky thuong tru ntn")
