import unicodedata

from vietnamese import accent_ratio, fold, has_diacritics, normalize, words


def test_nfd_input_becomes_nfc():
    nfd = unicodedata.normalize("NFD", "Đăng ký thường trú")
    assert nfd != "Đăng ký thường trú"
    assert normalize(nfd) == "Đăng ký thường trú"


def test_old_style_tone_marks_move_to_new_style():
    assert normalize("hoà giải, thoả thuận, uỷ ban, khoẻ") == "hòa giải, thỏa thuận, ủy ban, khỏe"


def test_closed_syllables_and_qu_keep_their_marks():
    assert normalize("hoàn thành, quý, quỳnh, khuyến") == "hoàn thành, quý, quỳnh, khuyến"


def test_fold_strips_all_marks_and_d_stroke():
    assert fold("Đăng KÝ thường trú Ở đâu") == "dang ky thuong tru o dau"


def test_words_keeps_one_letter_words():
    assert words("Ở đâu, ý kiến?") == ["ở", "đâu", "ý", "kiến"]


def test_accent_ratio():
    assert accent_ratio("thu tuc dang ky thuong tru") == 0.0
    assert accent_ratio("thủ tục đăng ký") == 1.0
    assert has_diacritics("đi") and not has_diacritics("di")
