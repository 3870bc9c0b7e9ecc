"""Status notices to the citizen who filed an item: routed to a department, closed.

They go through the outbox on Zalo and Messenger, like officials' replies (``flows.reply``),
and a citizen can stop them ("dừng thông báo"); replies still come. The web chat shows only
officials' replies (its page labels every message it fetches as one): a web citizen follows the
status with the tracking code.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from feedback_api.channels.base import PLATFORMS
from feedback_api.channels.store import notices_wanted
from feedback_api.feedback.orm import FeedbackItem
from feedback_api.notify import service as outbox
from feedback_api.notify.templates import format_due

GATEWAY_CHANNELS = PLATFORMS  # the channel gateway's platforms
LABELS = {"complaint": "Phản ánh", "proposal": "Kiến nghị", "question": "Câu hỏi"}
ROUTED = "{label} {code} của bạn đã được chuyển đến {department}. Hạn xử lý: {due}."
CLOSED = "{label} {code} của bạn đã được đóng. Nhắn mã {code} để xem trả lời và quá trình xử lý."
HOW_TO_STOP = "\n(Nhắn \"dừng thông báo\" nếu bạn không muốn nhận tin cập nhật.)"


def notify_status(session: Session, item: FeedbackItem, *, status: str,
                  department_name: str = "") -> None:
    """Queue the notice for ``status`` ("routed" or "closed") if the item has a citizen to
    tell and they did not stop notices. Once per item history entry (the dedupe key)."""
    if not item.sender_id or item.channel not in GATEWAY_CHANNELS:
        return
    if not notices_wanted(session, item.channel, item.sender_id):
        return
    label = LABELS.get(item.kind, "Phản ánh")
    if status == "routed":
        text = ROUTED.format(label=label, code=item.tracking_code,
                             department=department_name or "cơ quan phụ trách",
                             due=format_due(item.due_at))
    elif status == "closed":
        text = CLOSED.format(label=label, code=item.tracking_code)
    else:
        return
    text += HOW_TO_STOP
    outbox.enqueue_citizen_reply(
        session, channel=item.channel, sender_id=item.sender_id, text=text,
        tracking_code=item.tracking_code, purpose="status",
        dedupe_key=f"status:{item.tracking_code}:{status}:{len(item.events)}")
