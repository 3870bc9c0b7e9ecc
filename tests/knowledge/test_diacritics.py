"""Diacritic restoration: a syllable n-gram model learned from the corpus."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from knowledge.diacritics import DiacriticRestorer, read_phrases, split_segments
from tests.conftest import default_laws
from vietnamese import fold, normalize, words

LAWS = default_laws()

CORPUS = [
    "Thủ tục đăng ký thường trú tại cơ quan đăng ký cư trú.",
    "Công dân đăng ký thường trú tại chỗ ở hợp pháp.",
    "Người nghiện ma túy phải cai nghiện.",
    "Người sử dụng trái phép chất ma túy bị xử lý.",
    "Mã số thuế của doanh nghiệp.",
    "Cấp mã số cho hộ kinh doanh.",
    "Mua bán nhà ở phải có hợp đồng.",
    "Người bán nhà phải giao nhà.",
    "Bạn bè của người bị hại.",
    "Người bạn đi cùng.",
]


@pytest.fixture(scope="module")
def model() -> DiacriticRestorer:
    return DiacriticRestorer.fit(CORPUS)


def test_restores_unaccented_text(model: DiacriticRestorer) -> None:
    assert model.restore("thu tuc dang ky thuong tru") == "thủ tục đăng ký thường trú"


def test_context_picks_the_right_form(model: DiacriticRestorer) -> None:
    # "ma" is "ma" before "túy" but "mã" before "số".
    assert model.restore("nguoi nghien ma tuy") == "người nghiện ma túy"
    assert model.restore("cap ma so") == "cấp mã số"


def test_accented_tokens_are_kept_and_act_as_context(model: DiacriticRestorer) -> None:
    # "ban" becomes "bạn" before a typed "bè" and "bán" before a typed "nhà".
    assert model.restore("ban bè") == "bạn bè"
    assert model.restore("ban nhà") == "bán nhà"
    # A typed mark is never overridden, even where the model would choose otherwise.
    assert model.restore("nguoi nghien mà tuy") == "người nghiện mà túy"
    assert model.restore("Đăng ky thuong trú") == "Đăng ký thường trú"


def test_unknown_tokens_stay_as_typed(model: DiacriticRestorer) -> None:
    assert model.restore("xyz dang ky ko abc") == "xyz đăng ký ko abc"
    assert model.restore("qwerty") == "qwerty"
    assert model.restore("") == ""


def test_keeps_case_spacing_digits_and_punctuation(model: DiacriticRestorer) -> None:
    assert model.restore("Dang ky thuong tru, 2 lan!") == "Đăng ký thường trú, 2 lan!"
    assert model.restore("THU TUC dang ky") == "THỦ TỤC đăng ký"
    assert model.restore("  thu  tuc\tdang ky?  ") == "  thủ  tục\tđăng ký?  "


def test_extra_texts_add_everyday_words() -> None:
    plain = DiacriticRestorer.fit(CORPUS)
    assert plain.restore("xay nha tren dat nuong") == "xay nhà tren dat nuong"
    extra = ["xây nhà trên đất nương", "cho em hỏi"]
    richer = DiacriticRestorer.fit(CORPUS, extra_texts=extra, extra_weight=0.3)
    assert richer.restore("xay nha tren dat nuong") == "xây nhà trên đất nương"
    assert richer.restore("cho em hoi thu tuc dang ky") == "cho em hỏi thủ tục đăng ký"


def test_save_load_roundtrip(model: DiacriticRestorer, tmp_path: Path) -> None:
    path = tmp_path / "diacritics.npz"
    model.save(path)
    loaded = DiacriticRestorer.load(path)
    assert loaded.vocab == model.vocab
    assert loaded.order == model.order
    for text in ["thu tuc dang ky thuong tru", "ban bè", "cap ma so", "xyz Mua ban nha"]:
        assert loaded.restore(text) == model.restore(text)


def test_bad_arguments_are_rejected() -> None:
    with pytest.raises(ValueError):
        DiacriticRestorer.fit([])
    with pytest.raises(ValueError):
        DiacriticRestorer.fit(CORPUS, extra_weight=1.0)
    with pytest.raises(ValueError):
        DiacriticRestorer.fit(CORPUS, order=0)


def test_everyday_phrase_list_is_usable() -> None:
    phrases = read_phrases()
    assert len(phrases) >= 300
    assert "cho em hỏi" in phrases
    assert all(normalize(p) == p for p in phrases)
    assert sum(fold(p) != p.lower() for p in phrases) > 0.8 * len(phrases)


def _held_out(sentences: list[str], k: int) -> tuple[list[str], list[str]]:
    """k distinct sentences of >= 5 syllables; every copy is removed from training."""
    eligible = sorted({s for s in sentences if len(words(s)) >= 5})
    held = random.Random(7).sample(eligible, k)
    held_set = set(held)
    return [s for s in sentences if s not in held_set], held


@pytest.mark.skipif(LAWS is None, reason="laws.json not present")
def test_accuracy_on_held_out_corpus_sentences() -> None:
    laws = json.loads(LAWS.read_text(encoding="utf-8"))
    texts = [art["text"] for law in laws for art in law["articles"]]
    sentences = [seg for text in texts for seg in split_segments(text)]
    train, held = _held_out(sentences, 200)
    assert not set(held) & set(train)
    model = DiacriticRestorer.fit(train)
    right = total = baseline = 0
    for sentence in held:
        gold = words(sentence)
        got = words(model.restore(fold(sentence)))
        assert len(got) == len(gold)
        right += sum(a == b for a, b in zip(got, gold, strict=True))
        baseline += sum(model.restore(fold(w)) == w for w in gold)
        total += len(gold)
    assert right / total >= 0.85
    # Context must beat restoring each syllable on its own.
    assert right > baseline
