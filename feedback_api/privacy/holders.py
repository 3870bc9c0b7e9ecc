"""The personal-data holders of the product, one per store, and the registry built from settings.

In the order they run:
- ``actions_outbox``: the action server's SQLite outbox (``CAUNOI_ACTIONS_OUTBOX``), rows whose
  payload names the channel and sender id;
- ``rasa_tracker``: Rasa's tracker store (``CAUNOI_TRACKER_STORE_URL``), by Rasa sender id
  (tracker.py);
- ``citizen_messages``: ``citizen_message``, replies delivered on the web and API channels;
- ``feedback_outbox``: ``outbox_message``, replies queued for the citizen and notices about
  their items (found by tracking code);
- ``answer_votes``: ``answer_vote``, by keyed voter hash (answers.service.voter_hash);
- ``channel_gateway``: ``channel_event`` (what a citizen sent on Zalo or Messenger) and
  ``channel_user`` (their window, preferences and photos waiting for an item);
- ``feedback_items``: ``feedback_item`` and the texts of its ``feedback_event`` rows.

``feedback_items`` runs last: its sender id is how the holders before it find the citizen's
items (their tracking codes, their phone numbers to cut out of texts).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sqlalchemy.orm import Session

from actions import outbox as actions_outbox
from feedback_api.answers import service as answers
from feedback_api.channels import store as channel_store
from feedback_api.channels.base import PLATFORMS
from feedback_api.feedback import service as feedback
from feedback_api.feedback.orm import FeedbackItem
from feedback_api.feedback.views import detail
from feedback_api.notify import service as notify
from feedback_api.privacy.redact import Redactor
from feedback_api.privacy.registry import Registry, StoreUnavailable, Subject
from feedback_api.privacy.tracker import TrackerStore
from feedback_api.settings import Settings

OUTBOX_UNAVAILABLE = "Không truy cập được hàng đợi gửi của máy chủ hành động; hãy thử lại sau."


def _items(session: Session, subject: Subject) -> list[FeedbackItem]:
    return feedback.personal_data(session, channel=subject.channel, sender_id=subject.sender_id)


def redactor_for(items: list[FeedbackItem], subject: Subject) -> Redactor:
    """Cuts out what identifies the subject: their id, and the phones and names they left."""
    return Redactor(ids=[subject.sender_id], phones=[i.contact_phone for i in items],
                    names=[i.contact_name for i in items])


class FeedbackItems:
    name = "feedback_items"

    def __init__(self, session: Session, actor: str) -> None:
        self.session, self.actor = session, actor

    def export(self, subject: Subject) -> list[dict]:
        return [detail(self.session, item).model_dump(mode="json")
                for item in _items(self.session, subject)]

    def erase(self, subject: Subject) -> int:
        redactor = redactor_for(_items(self.session, subject), subject)
        return feedback.erase_personal_data(
            self.session, channel=subject.channel, sender_id=subject.sender_id,
            actor=self.actor, redact=redactor.text)


class FeedbackOutbox:
    name = "feedback_outbox"

    def __init__(self, session: Session) -> None:
        self.session = session

    def export(self, subject: Subject) -> list[dict]:
        return [{"kind": m.kind, "status": m.status,
                 "text": m.payload.get("text") or _parts_text(m.payload.get("parts")),
                 "tracking_code": m.payload.get("tracking_code"),
                 "created_at": m.created_at.isoformat(),
                 "sent_at": m.sent_at.isoformat() if m.sent_at else None}
                for m in notify.replies_to(self.session, channel=subject.channel,
                                           sender_id=subject.sender_id)]

    def erase(self, subject: Subject) -> int:
        items = _items(self.session, subject)
        return notify.erase_for(
            self.session, channel=subject.channel, sender_id=subject.sender_id,
            tracking_codes=[i.tracking_code for i in items],
            redact=redactor_for(items, subject).deep)


def _parts_text(parts) -> str | None:
    """The words of a platform message (an assistant's turn on Zalo or Messenger)."""
    if not isinstance(parts, list):
        return None
    texts = [p.get("text") or ((p.get("attachment") or {}).get("payload") or {}).get("text")
             for p in parts if isinstance(p, dict)]
    return "\n".join(t for t in texts if isinstance(t, str)) or None


class ChannelGateway:
    name = "channel_gateway"

    def __init__(self, session: Session) -> None:
        self.session = session

    def export(self, subject: Subject) -> list[dict]:
        if subject.channel not in PLATFORMS:
            return []
        out: list[dict] = [
            {"received_at": e.received_at.isoformat(), "status": e.status, **(e.body or {})}
            for e in channel_store.events_of(self.session, subject.channel, subject.sender_id)]
        user = channel_store.get_user(self.session, subject.channel, subject.sender_id)
        if user is not None:
            out.append({"last_message_at": user.last_inbound_at.isoformat()
                        if user.last_inbound_at else None,
                        "status_notices": not user.notices_off,
                        "photos_waiting": [a.get("url") for a in user.pending_attachments or []
                                           if isinstance(a, dict)]})
        return out

    def erase(self, subject: Subject) -> int:
        if subject.channel not in PLATFORMS:
            return 0
        rows = channel_store.events_of(self.session, subject.channel, subject.sender_id)
        user = channel_store.get_user(self.session, subject.channel, subject.sender_id)
        for row in [*rows, *([user] if user else [])]:
            self.session.delete(row)
        self.session.flush()
        return len(rows) + (1 if user else 0)


class CitizenMessages:
    name = "citizen_messages"

    def __init__(self, session: Session) -> None:
        self.session = session

    def export(self, subject: Subject) -> list[dict]:
        return [{"tracking_code": m.tracking_code, "text": m.text,
                 "created_at": m.created_at.isoformat()}
                for m in notify.messages_to(self.session, channel=subject.channel,
                                            sender_id=subject.sender_id)]

    def erase(self, subject: Subject) -> int:
        return notify.erase_messages_to(self.session, channel=subject.channel,
                                        sender_id=subject.sender_id)


class AnswerVotes:
    name = "answer_votes"

    def __init__(self, session: Session, secret: bytes) -> None:
        self.session, self.secret = session, secret

    def export(self, subject: Subject) -> list[dict]:
        votes = answers.votes_of(self.session, secret=self.secret, channel=subject.channel,
                                 sender_id=subject.sender_id)
        return [{"question": v.question, "helpful": v.helpful, "citations": v.citations,
                 "created_at": v.created_at.isoformat()} for v in votes]

    def erase(self, subject: Subject) -> int:
        return answers.erase_voter(self.session, secret=self.secret, channel=subject.channel,
                                   sender_id=subject.sender_id)


class ActionsOutbox:
    """The action server's SQLite file, opened directly (actions/outbox.py's helpers)."""

    name = "actions_outbox"

    def __init__(self, path: Path) -> None:
        self.path = path

    def export(self, subject: Subject) -> list[dict]:
        try:
            return actions_outbox.export_sender(self.path, channel=subject.channel,
                                                sender_id=subject.sender_id)
        except sqlite3.Error as exc:
            raise StoreUnavailable(OUTBOX_UNAVAILABLE) from exc

    def erase(self, subject: Subject) -> int:
        try:
            return actions_outbox.erase_sender(self.path, channel=subject.channel,
                                               sender_id=subject.sender_id)
        except sqlite3.Error as exc:
            raise StoreUnavailable(OUTBOX_UNAVAILABLE) from exc


def build(settings: Settings) -> Registry:
    """The registry of this installation: every store, the unconfigured ones as skipped."""
    registry = Registry()
    outbox_path = settings.actions_outbox
    registry.register("actions_outbox", (lambda _s, _a: ActionsOutbox(outbox_path))
                      if outbox_path else None)
    tracker = TrackerStore(settings.tracker_store_url) if settings.tracker_store_url else None
    registry.register("rasa_tracker", (lambda _s, _a: tracker) if tracker else None)
    if tracker is not None:
        registry.closers.append(tracker.dispose)
    registry.register("citizen_messages", lambda session, _a: CitizenMessages(session))
    registry.register("feedback_outbox", lambda session, _a: FeedbackOutbox(session))
    voter_key = settings.key("voter")
    registry.register("answer_votes", lambda session, _a: AnswerVotes(session, voter_key))
    registry.register("channel_gateway", lambda session, _a: ChannelGateway(session))
    registry.register("feedback_items", FeedbackItems)
    return registry

