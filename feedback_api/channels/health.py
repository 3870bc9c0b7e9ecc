"""Per-platform health for operators (/readyz and the inbox admin): is it on, when did the last
event arrive and the last message go out, when does Zalo's token expire, what waits, what died,
and an alert when a person must act (a revoked token)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from feedback_api.channels.base import PLATFORMS
from feedback_api.channels.orm import ChannelEvent, ChannelState
from feedback_api.db import utcnow
from feedback_api.notify.orm import OutboxMessage
from feedback_api.notify.service import TO_CITIZEN
from feedback_api.settings import Settings


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def channel_health(session: Session, settings: Settings, now: datetime | None = None) -> dict:
    """``{platform: {...}}`` for Zalo and Messenger; ages in seconds."""
    now = now or utcnow()
    out = {}
    for platform in PLATFORMS:
        on = settings.zalo_on if platform == "zalo" else settings.messenger_on
        state = session.get(ChannelState, platform)
        oldest = session.scalar(select(func.min(ChannelEvent.received_at)).where(
            ChannelEvent.platform == platform, ChannelEvent.status == "pending"))
        dead = session.scalar(select(func.count()).select_from(OutboxMessage).where(
            OutboxMessage.kind.in_(TO_CITIZEN), OutboxMessage.status == "dead",
            OutboxMessage.payload["channel"].as_string() == platform)) or 0
        entry = {
            "on": on,
            "status": "off" if not on else ("alert" if state and state.alert else "ok"),
            "last_event_at": _iso(state.last_event_at if state else None),
            "last_send_at": _iso(state.last_send_at if state else None),
            "oldest_pending_event_age_s": round((now - oldest).total_seconds(), 1)
            if oldest else None,
            "dead_letters": dead,
            "alert": state.alert if state else None,
        }
        if platform == "zalo":
            entry["token_expires_at"] = _iso(state.token_expires_at if state else None)
        out[platform] = entry
    return out
