"""The dispatcher: each citizen's stored events, in order, through Rasa and into the outbox.

One citizen's events are handled one at a time across every thread and process: a dispatcher
first takes a lease on the citizen's ``channel_user`` row (an UPDATE that succeeds for one
caller only), then handles their due events oldest first, and stops at the first one that
cannot be handled yet (Rasa down), so a later message is never answered before an earlier one.
Each result commits only while the lease is still ours (the token fences a lease that expired
and was taken over). Rasa's messages of one turn become one outbox ``channel_message``
(senders.py sends its parts in order, once).

Delivery to Rasa is at least once in one narrow window: Rasa answered but the process died
before the result committed; the event is then handled again after the lease expires.
"""

from __future__ import annotations

import logging
import re
import secrets
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update

from feedback_api.channels import render as common
from feedback_api.channels.base import Rendered
from feedback_api.channels.orm import ChannelEvent, ChannelUser
from feedback_api.channels.store import keep_attachments
from feedback_api.chat.rasa import RasaBadReply, RasaClient, RasaUnavailable
from feedback_api.db import Database, utcnow
from feedback_api.notify import service as outbox
from vietnamese.text import fold, normalize

log = logging.getLogger(__name__)

CHANNEL_MESSAGE = "channel_message"
MAX_BAD_REPLIES = 5  # Rasa answered garbage this many times: the event is given up
RETRY_CAP_SECONDS = 30.0  # Rasa down: try again at least this often
STOP_NOTICES = re.compile(r"^(dung|tat|ngung|huy)\s+(nhan\s+)?thong\s+bao$")
START_NOTICES = re.compile(r"^(bat|mo|nhan)\s+(lai\s+)?thong\s+bao$")

NOTICES_STOPPED = ("Mình sẽ không gửi tin cập nhật trạng thái phản ánh nữa. Trả lời của cán bộ "
                   "vẫn được gửi đến bạn. Nhắn \"bật thông báo\" để nhận lại.")
NOTICES_STARTED = "Mình sẽ gửi tin khi phản ánh của bạn được chuyển, trả lời hoặc đóng."
PHOTO_KEPT = ("Mình đã nhận ảnh. Ảnh sẽ được đính kèm vào phản ánh, kiến nghị bạn gửi tiếp "
              "theo (trong 24 giờ).")
UNSUPPORTED = ("Mình chưa đọc được loại tin này (nhãn dán, âm thanh, video, tệp). Bạn nhắn bằng "
               "chữ giúp mình nhé.")
GIVEN_UP = ("Xin lỗi, trợ lý đang gặp sự cố nên chưa trả lời được tin nhắn vừa rồi. Bạn vui lòng "
            "gửi lại sau ít phút.")


@dataclass(frozen=True)
class Platform:
    """What the dispatcher needs of a platform module."""

    name: str
    render: Callable[[list[dict]], Rendered]


def sender_id(platform: str, user_id: str) -> str:
    """The id Rasa knows a platform's citizen by (actions/conversation.py strips the prefix)."""
    return f"{platform}:{user_id}"


def _folded(text: str) -> str:
    return " ".join(fold(normalize(text)).strip(" .!").split())


class Dispatcher:
    """Hands stored events to Rasa in order; see the module docstring."""

    def __init__(self, database: Database, rasa: RasaClient, platforms: Mapping[str, Platform],
                 *, lease_seconds: float = 120.0, batch: int = 50,
                 on_enqueued: Callable[[], None] = lambda: None) -> None:
        self.database = database
        self.rasa = rasa
        self.platforms = dict(platforms)
        self.lease_seconds = lease_seconds
        self.batch = batch
        self.on_enqueued = on_enqueued
        # a stored delivery wakes one idle thread, not all of them at once (they would race
        # for the same citizen's lease)
        self._wake = threading.Condition()

    # --- loop -------------------------------------------------------------------------------
    def wake(self) -> None:
        """An event was stored: one idle thread looks at once instead of at the next poll."""
        with self._wake:
            self._wake.notify()

    def run_forever(self, stop: threading.Event, interval: float = 0.5) -> None:
        while not stop.is_set():
            try:
                handled = self.run_once()
            except Exception as exc:  # noqa: BLE001 - keep going; the database may come back
                log.error("channel dispatch pass failed: %s", type(exc).__name__)
                handled = 0
            if not handled:
                with self._wake:
                    self._wake.wait(interval)

    def start_threads(self, count: int, interval: float = 0.5) -> tuple[list, threading.Event]:
        stop = threading.Event()
        threads = []
        for n in range(count):
            thread = threading.Thread(target=self.run_forever, args=(stop, interval),
                                      name=f"caunoi-channels-{n}", daemon=True)
            thread.start()
            threads.append(thread)
        return threads, stop

    def run_once(self, now: datetime | None = None) -> int:
        """Take one citizen with due events, handle them; returns how many were handled."""
        now = now or utcnow()
        for platform, user_id in self._candidates(now):
            token = self._lease(platform, user_id, now)
            if token is None:
                continue  # another dispatcher has this citizen
            try:
                handled = self._handle_user(platform, user_id, token)
            finally:
                self._release(platform, user_id, token)
            if handled:
                return handled
            # this citizen's oldest event must wait: the next citizen is not held up by it
        return 0

    # --- leases -----------------------------------------------------------------------------
    def _candidates(self, now: datetime) -> list[tuple[str, str]]:
        # citizens another thread holds are left out: queueing on their row would only wait
        stmt = (select(ChannelEvent.platform, ChannelEvent.user_id)
                .join(ChannelUser, (ChannelUser.platform == ChannelEvent.platform)
                      & (ChannelUser.user_id == ChannelEvent.user_id))
                .where(ChannelEvent.status == "pending", ChannelEvent.next_attempt_at <= now,
                       ChannelEvent.platform.in_(sorted(self.platforms)),
                       ChannelUser.lease_until.is_(None) | (ChannelUser.lease_until < now))
                .order_by(ChannelEvent.id).limit(self.batch))
        with self.database.session() as session:
            rows = session.execute(stmt).all()
        seen: dict[tuple[str, str], None] = {}
        for platform, user_id in rows:
            seen.setdefault((platform, user_id), None)
        return list(seen)

    def _lease(self, platform: str, user_id: str, now: datetime) -> str | None:
        token = secrets.token_hex(16)
        stmt = (update(ChannelUser)
                .where(ChannelUser.platform == platform, ChannelUser.user_id == user_id,
                       (ChannelUser.lease_until.is_(None)) | (ChannelUser.lease_until < now))
                .values(lease_until=now + timedelta(seconds=self.lease_seconds),
                        lease_token=token)
                .execution_options(synchronize_session=False))
        with self.database.session() as session:
            return token if session.execute(stmt).rowcount == 1 else None

    def _release(self, platform: str, user_id: str, token: str) -> None:
        stmt = (update(ChannelUser)
                .where(ChannelUser.platform == platform, ChannelUser.user_id == user_id,
                       ChannelUser.lease_token == token)
                .values(lease_until=None, lease_token=None)
                .execution_options(synchronize_session=False))
        try:
            with self.database.session() as session:
                session.execute(stmt)
        except Exception as exc:  # noqa: BLE001 - the lease expires by itself
            log.warning("channel lease not released: %s", type(exc).__name__)

    # --- handling ---------------------------------------------------------------------------
    def _handle_user(self, platform: str, user_id: str, token: str) -> int:
        handled = 0
        while True:
            with self.database.session() as session:
                event = session.scalars(
                    select(ChannelEvent)
                    .where(ChannelEvent.platform == platform, ChannelEvent.user_id == user_id,
                           ChannelEvent.status == "pending")
                    .order_by(ChannelEvent.sent_at, ChannelEvent.id).limit(1)).first()
                if event is None or event.next_attempt_at > utcnow():
                    return handled  # done, or the oldest must wait: later ones wait behind it
                user = session.get(ChannelUser, (platform, user_id))
                choices = dict(user.choices or {}) if user else {}
                event_id, body = event.id, dict(event.body or {})
                session.expunge_all()
            if not self._handle(platform, user_id, token, event_id, body, choices):
                return handled
            handled += 1

    def _handle(self, platform: str, user_id: str, token: str, event_id: int, body: dict,
                choices: dict[str, str]) -> bool:
        """One event; False when it must wait (the citizen's later events wait with it)."""
        kind, text = body.get("kind"), (body.get("text") or "").strip()
        local: str | None = None  # a reply the gateway gives itself, without Rasa
        notices: bool | None = None
        if kind == "unsupported":
            local = UNSUPPORTED
        elif kind == "image" and not text:
            local = PHOTO_KEPT
        elif kind == "follow":
            text = "/greet"
        elif kind == "location" and body.get("location"):
            lat, lon = body["location"]
            text = (f"Vị trí: {lat:.5f}, {lon:.5f} "
                    f"(https://www.openstreetmap.org/?mlat={lat:.5f}&mlon={lon:.5f})")
        elif text and STOP_NOTICES.match(_folded(text)):
            local, notices = NOTICES_STOPPED, True
        elif text and START_NOTICES.match(_folded(text)):
            local, notices = NOTICES_STARTED, False
        else:
            text = common.choice_for(text, choices) or text
        if local is None and not text:
            return self._finish(platform, user_id, token, event_id, body, Rendered())
        if local is not None:
            rendered = self.platforms[platform].render([{"text": local}])
            return self._finish(platform, user_id, token, event_id, body, rendered,
                                notices_off=notices, keep_choices=True)
        try:
            messages = self.rasa.send(sender=sender_id(platform, user_id), text=text,
                                      channel=platform)
        except RasaUnavailable:
            self._retry_later(event_id, token, platform, user_id, give_up=False)
            return False
        except RasaBadReply:
            if self._retry_later(event_id, token, platform, user_id, give_up=True):
                rendered = self.platforms[platform].render([{"text": GIVEN_UP}])
                self._finish(platform, user_id, token, event_id, body, rendered,
                             status="dead", error="Rasa answered garbage")
                return True
            return False
        rendered = self.platforms[platform].render(messages)
        return self._finish(platform, user_id, token, event_id, body, rendered)

    def _retry_later(self, event_id: int, token: str, platform: str, user_id: str, *,
                     give_up: bool) -> bool:
        """Count a failed try; True when it is the last one (``give_up`` events only)."""
        with self.database.session() as session:
            event = session.get(ChannelEvent, event_id)
            if event is None or not self._ours(session, platform, user_id, token):
                return False
            event.attempts += 1
            if give_up and event.attempts >= MAX_BAD_REPLIES:
                return True
            delay = min(RETRY_CAP_SECONDS, 2.0 ** event.attempts)
            event.next_attempt_at = utcnow() + timedelta(seconds=delay)
            event.last_error = "Rasa unavailable" if not give_up else "Rasa answered garbage"
        log.warning("channel event %s waits for Rasa (attempt %s)", event_id, event.attempts)
        return False

    @staticmethod
    def _ours(session, platform: str, user_id: str, token: str) -> bool:
        user = session.get(ChannelUser, (platform, user_id), populate_existing=True)
        return user is not None and user.lease_token == token

    def _finish(self, platform: str, user_id: str, token: str, event_id: int, body: dict,
                rendered: Rendered, *, notices_off: bool | None = None, keep_choices: bool = False,
                status: str = "done", error: str | None = None) -> bool:
        """Record the result and queue the reply, in one transaction, if the lease holds."""
        now = utcnow()
        with self.database.session() as session:
            if not self._ours(session, platform, user_id, token):
                log.warning("channel event %s: lease lost, result dropped", event_id)
                return False
            event = session.get(ChannelEvent, event_id)
            if event is None or event.status != "pending":
                return True  # handled meanwhile (erased, or by a dispatcher we outlived)
            user = session.get(ChannelUser, (platform, user_id))
            event.status, event.done_at, event.last_error = status, now, error
            if body.get("kind") == "image" and body.get("attachments"):
                keep_attachments(user, body["attachments"], now)
            if notices_off is not None:
                user.notices_off = notices_off
            if not keep_choices:
                user.choices = dict(rendered.choices)
            if rendered.parts:
                outbox.enqueue_channel_message(
                    session, channel=platform, sender_id=user_id, parts=rendered.parts,
                    purpose="response", dedupe_key=f"turn:{platform}:{event_id}")
        if rendered.parts:
            self.on_enqueued()
        return True
