"""Pure-Python text normalisation behind ``addons.nlu_vi`` (no Rasa import, so benchmarks and
tests can use it from any virtualenv): accent folding and Vietnamese chat spellings."""

from __future__ import annotations

import re
import unicodedata

# Chat spellings, keyed by their folded form. Only unambiguous ones: "bn" (bạn / bao nhiêu),
# "a" (anh / ạ), "hong" (không / hỏng), "dk" (được / đăng ký / điều kiện) stay as typed and
# the classifier learns them from context.
CHAT_SPELLINGS: dict[str, str] = {
    # không
    "ko": "khong", "k": "khong", "kh": "khong", "khg": "khong", "kg": "khong", "hok": "khong",
    "hk": "khong", "khum": "khong", "hem": "khong", "kp": "khong phai",
    # được
    "dc": "duoc", "dcj": "duoc",
    # gì, với, như thế nào, bao giờ, rồi, người, mình, vợ, chồng, em, tôi
    "j": "gi", "ji": "gi", "gj": "gi",
    "vs": "voi", "vsi": "voi",
    "ntn": "nhu the nao", "ntnao": "nhu the nao",
    "bh": "bao gio", "bgio": "bao gio", "bjo": "bao gio",
    "r": "roi", "rui": "roi", "ruj": "roi",
    "ng": "nguoi",
    "mk": "minh", "mik": "minh", "mh": "minh",
    "vk": "vo", "ck": "chong",
    "e": "em", "t": "toi", "cj": "chi",
    # số điện thoại, điện thoại, thông tin, ...
    "sdt": "so dien thoai", "sodt": "so dien thoai", "dt": "dien thoai", "dthoai": "dien thoai",
    "lm": "lam", "ns": "noi", "bik": "biet", "bit": "biet", "bjet": "biet",
    "trc": "truoc", "nhiu": "nhieu", "dag": "dang", "ktra": "kiem tra", "vde": "van de",
    "hs": "hoc sinh", "gv": "giao vien", "ubnd": "uy ban nhan dan", "ub": "uy ban",
    "cmnd": "chung minh nhan dan", "cccd": "can cuoc cong dan",
    "wa": "qua", "zay": "vay", "dzay": "vay",
    # yes / thanks words typed in English or half-English
    "oke": "ok", "okie": "ok", "oki": "ok", "okay": "ok", "okela": "ok",
    "uk": "u", "uh": "u", "uhm": "u", "um": "u", "uhuh": "u", "uki": "u",
    "tks": "cam on", "thx": "cam on", "thanks": "cam on", "thank": "cam on", "camon": "cam on",
    "admin": "ad",
}

_REPEATS = re.compile(r"(\w)\1{2,}")


def fold(text: str) -> str:
    """Lower-case and strip every diacritic: "Đăng ký" -> "dang ky"."""
    text = unicodedata.normalize("NFD", text.lower()).replace("đ", "d")
    text = "".join(ch for ch in text if unicodedata.category(ch) != "Mn")
    return unicodedata.normalize("NFC", text)


def canonical(token: str, *, chat_spellings: bool = True) -> str:
    """The folded, de-slanged form of one token ("Đc" -> "duoc", "khôngggg" -> "khong")."""
    folded = _REPEATS.sub(r"\1", fold(token))
    if chat_spellings:
        return CHAT_SPELLINGS.get(folded, folded)
    return folded


# How Vietnamese marks a question, as typed (accented or not): a question mark; a final
# question particle, possibly followed by politeness ("có được không ạ", "xong chưa vậy",
# "ntn ad", "có bị cấm ko mn"); a question word ("gì", "bao nhiêu", "ở đâu", "thế nào", "vì
# sao"); "cho em hỏi". Left out: a final unaccented "a" or "ha" (also "ạ", and the place name
# "Hà"), "mấy" ("mấy tháng không ai sửa" is a complaint) and "có … không" in mid-sentence
# ("ko có sóng, gọi cấp cứu ko được").
_POLITE = r"(\s+(ạ|a|ad|vậy|vay|thế|the|nhỉ|nhi|nhé|nhe|ah|ạh|mn|mọi người|moi nguoi))*"
QUESTION_CUES = re.compile(
    "|".join([
        r"\w\s*\?",
        r"\b(không|khong|ko|k|kh|hok|hông|hong|hem|chưa|chua|hả|nhỉ|nhi|chứ|sao|à|ntn|nao|nào)"
        + _POLITE + r"\W*$",
        r"\b(gì|gi|j|nào|bao nhiêu|bao nhieu|bao lâu|bao lau|bao giờ|bao gio|ở đâu|o dau"
        r"|thế nào|the nao|như nào|nhu nao|ntn|làm sao|lam sao|tại sao|tai sao|vì sao|vi sao)\b",
        r"\b(cho|xin)\s+(\w+\s+)?(hỏi|hoi)\b",
    ]),
    re.IGNORECASE,
)


def looks_like_question(text: str | None) -> bool:
    """True if the message carries a question cue (see ``QUESTION_CUES``)."""
    return bool(text) and QUESTION_CUES.search(unicodedata.normalize("NFC", text)) is not None
