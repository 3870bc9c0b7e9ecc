"""Vietnamese text rules that every process shares: NFC and tone marks, accent folding, when a
message counts as typed without diacritics, chat spellings ("ko" -> "không"), question cues and
how a complaint or a proposal opens ("tôi muốn phản ánh: …").

Standard library only: the search and the API (Python 3.11) and Rasa's components and the
action server (Python 3.10) all import it, so each rule is written once.
"""

from vietnamese.openings import explicit_feedback, has_content
from vietnamese.questions import QUESTION_CUES, looks_like_question
from vietnamese.spellings import SPELLINGS_FILE, canonical, nlu_spellings, search_spellings
from vietnamese.text import (
    UNACCENTED_BELOW,
    accent_ratio,
    fold,
    fold_keep_length,
    has_diacritics,
    is_unaccented,
    normalize,
    words,
)

__all__ = [
    "QUESTION_CUES",
    "SPELLINGS_FILE",
    "UNACCENTED_BELOW",
    "accent_ratio",
    "canonical",
    "explicit_feedback",
    "fold",
    "fold_keep_length",
    "has_content",
    "has_diacritics",
    "is_unaccented",
    "looks_like_question",
    "nlu_spellings",
    "normalize",
    "search_spellings",
    "words",
]
