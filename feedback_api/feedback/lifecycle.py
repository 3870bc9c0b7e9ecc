"""The feedback lifecycle, enforced here and nowhere else (DESIGN.md):

new → routed → in_progress → answered → closed, plus rejected (spam, abuse) and merged
(duplicate). Re-routing keeps an open item ``routed``; a citizen's follow-up reopens an answered
or closed item to ``in_progress``.
"""

from __future__ import annotations

from feedback_api.errors import IllegalTransition

STATUSES = ("new", "routed", "in_progress", "answered", "closed", "rejected", "merged")
OPEN = ("new", "routed", "in_progress")
TERMINAL = ("rejected", "merged")
LABELS = {
    "new": "Mới tiếp nhận",
    "routed": "Đã chuyển cơ quan phụ trách",
    "in_progress": "Đang xử lý",
    "answered": "Đã trả lời",
    "closed": "Đã đóng",
    "rejected": "Không xử lý",
    "merged": "Đã gộp với phản ánh khác",
}


def allowed(previous: str, current: str) -> bool:
    """Whether ``previous → current`` is a legal status change."""
    match (previous, current):
        case ("new", "routed" | "rejected" | "merged"):
            return True
        case ("routed", "routed" | "in_progress" | "answered" | "rejected" | "merged"):
            return True
        case ("in_progress", "routed" | "answered" | "rejected" | "merged"):
            return True
        case ("answered", "closed" | "in_progress"):
            return True
        case ("closed", "in_progress"):
            return True
        case _:
            return False


def check(previous: str, current: str) -> None:
    """Raise IllegalTransition with a message an official understands."""
    if current not in STATUSES:
        raise IllegalTransition(f"Trạng thái không tồn tại: '{current}'.")
    if not allowed(previous, current):
        raise IllegalTransition(
            f"Không thể chuyển từ '{LABELS[previous]}' sang '{LABELS[current]}'."
        )


def next_statuses(previous: str) -> list[str]:
    """What an official can move an item to next (for the inbox's buttons)."""
    return [s for s in STATUSES if s != previous and allowed(previous, s)]
