from knowledge.chat import default_lexicon


def test_abbreviations_expand_whole_words_only():
    lex = default_lexicon()
    assert lex.expand_abbreviations("vk e ko đc đi") == "vợ em không được đi"
    assert lex.expand_abbreviations("kho bạc") == "kho bạc"


def test_abbreviations_work_without_accents_and_keep_punctuation():
    assert default_lexicon().expand_abbreviations("dc ko, ck?") == "được không, chồng?"


def test_everyday_phrases_bring_legal_terms_with_or_without_accents():
    lex = default_lexicon()
    assert "đăng ký thường trú" in " ".join(lex.legal_terms("muốn nhập khẩu về nhà chồng"))
    assert "ly hôn" in lex.legal_terms("muon bo vo thi lam the nao")
    assert lex.legal_terms("hôm nay trời đẹp") == []


def test_diacritics_the_citizen_typed_rule_out_other_phrases():
    lex = default_lexicon()
    dog = lex.legal_terms("dắt chó ra đường")
    assert dog, "the lexicon lost its dog-walking phrase"
    # "đất cho" (land given) folds like "dắt chó" (walking a dog): typed accents decide
    assert not set(dog) & set(lex.legal_terms("bố mẹ chia đất cho con"))
    # typed without accents, either reading stays possible
    assert set(dog) <= set(lex.legal_terms("dat cho ra duong"))
    # a word typed without accents next to one typed with them
    assert set(dog) <= set(lex.legal_terms("dắt cho ra đường"))
