"""Officials' replies in the web chat: ``GET /chat/api/replies?after=<id>``.

When an official replies to an item filed from the web chat, the outbox worker stores the reply
in ``citizen_message`` under the chat's channel ("web") and the browser's sender id
(notify/senders.py ``WebChannelSender``). The page asks here on load and every few seconds
while it is visible, and shows what is new.

Whose replies is decided only by the signed sender cookie (pages.py ``SenderCookies``): there is
no parameter that names a sender, so nobody can read another citizen's replies. A request
without a valid cookie gets an empty list, not an error: such a browser has no replies (its
sender id would be new), the page needs no special case, and an empty answer tells a prober
nothing. No cookie is issued here; ``GET /chat`` does that.

Polling has its own rate limit (``rate_limit_replies``, per sender; per address without a
cookie), apart from the chat's, so a page left open does not spend the citizen's message budget.
The answer is private (it carries a citizen's replies): http.py sends it ``no-store``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from feedback_api.chat.deps import ChatDep
from feedback_api.deps import DbSession
from feedback_api.notify.service import messages_after
from feedback_api.ratelimit import Limits, client_address

router = APIRouter(include_in_schema=False)
CHANNEL = "web"  # actions/conversation.py CHANNELS: the chat's Rasa REST input channel -> "web"
PAGE = 20  # replies per answer; the page asks again with the last id when it got a full page
MAX_ID = 2**31 - 1  # citizen_message.id is a 32-bit integer on PostgreSQL


@router.get("/chat/api/replies")
def replies(
    request: Request,
    chat: ChatDep,
    limits: Limits,
    session: DbSession,
    after: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
) -> list[dict[str, Any]]:
    """The sender's replies with an id above ``after``, oldest first, at most ``PAGE``."""
    sender = chat.senders.read(request)
    if sender is None:
        limits.check("replies", "ip", client_address(request))
        return []
    limits.check("replies", "sender", sender)
    rows = messages_after(session, channel=CHANNEL, sender_id=sender, after=after, limit=PAGE)
    return [
        {
            "id": row.id,
            "tracking_code": row.tracking_code,
            "text": row.text,
            "created_at": row.created_at.isoformat(timespec="seconds"),
        }
        for row in rows
    ]
