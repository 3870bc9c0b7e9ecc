"""How a citizen opens a complaint or a proposal, as typed (accented or not).

- ``explicit_feedback``: "Tôi muốn phản ánh: <what is wrong>" is never a question, whatever the
  classifier said: the opening names the kind ("phản ánh" -> complaint, "kiến nghị"/"đề xuất" ->
  proposal) and the rest says what it is about. Rasa's intent guard
  (``bot/addons/intent_guard.py``) reads it.
- ``has_content``: does an opening message already say what the complaint or proposal is about
  ("đường vào bản Tả Van sạt lở 2 tháng chưa ai dọn"), or does it only ask to complain ("tôi
  muốn gửi một phản ánh")? The feedback form (``actions/tell.py``) takes the message as the
  content when it does.

Standard library only: the guard and the form run on Python 3.10 in two processes.
"""

from __future__ import annotations

import re

from vietnamese.text import fold_keep_length

CONTENT_WORDS = 4  # an opening message with this many words beyond "tôi muốn phản ánh" is content
# "(xin chào,) cho tôi gửi một phản ánh về việc": the lead-in of an opening message (folded)
LEAD_IN = re.compile(
    r"^\W*(?:(?:xin\s+)?chao\s+\w+\W+)?(?:(?:cho|cho phep)\s+)?"
    r"(?:toi|tui|em|e|minh|chau|t|bac|co|chu|anh|chi)?\s*"
    r"(?:(?:muon|can|xin|dang|se|co|duoc|gui|lam|viet|nop|them)\s+)*"
    r"(?:(?:1|mot|cai)\s+)*"
    r"(?:phan anh|kien nghi|de xuat|gop y|khieu nai|to cao|y kien|bao cao|pa|kn)?"
    r"(?:\s+(?:ve|viec|la|rang|voi|den|len|cho|nay|sau))*\W*"
)
# "Tôi muốn phản ánh …", "đề xuất …" at the very start of a message (folded)
EXPLICIT_OPENING = re.compile(
    r"^\W*(?:(?:toi|tui|em|e|minh|chau|t)\s+)?(?:(?:muon|xin|can|dang|gui)\s+)*"
    r"(phan anh|kien nghi|de xuat)\b")
KIND_OF_OPENING = {"phan anh": "complaint", "kien nghi": "proposal", "de xuat": "proposal"}


def has_content(message: str) -> bool:
    """Does an opening message say what the complaint or proposal is about?"""
    folded = fold_keep_length(message.strip())
    rest = folded[LEAD_IN.match(folded).end():]
    return len([w for w in re.findall(r"\w+", rest) if len(w) > 1]) >= CONTENT_WORDS


def explicit_feedback(message: str | None) -> str | None:
    """``"complaint"`` or ``"proposal"`` when the message opens by naming one and says what it
    is about ("Tôi muốn đề xuất: làm cầu treo qua suối cho bản em"); otherwise None."""
    if not message:
        return None
    opening = EXPLICIT_OPENING.match(fold_keep_length(message.strip()))
    if opening is None or not has_content(message):
        return None
    return KIND_OF_OPENING[opening.group(1)]
