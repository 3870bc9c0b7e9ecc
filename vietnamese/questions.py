"""How Vietnamese marks a question, as typed (accented or not).

A question mark; a final question particle, possibly followed by politeness ("có được không
ạ", "xong chưa vậy", "ntn ad", "có bị cấm ko mn"); a question word ("gì", "bao nhiêu", "ở
đâu", "thế nào", "vì sao"); "cho em hỏi". Left out: a final unaccented "a" or "ha" (also
"ạ", and the place name "Hà"), "mấy" ("mấy tháng không ai sửa" is a complaint) and "có …
không" in mid-sentence ("ko có sóng, gọi cấp cứu ko được").
"""

from __future__ import annotations

import re
import unicodedata

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
