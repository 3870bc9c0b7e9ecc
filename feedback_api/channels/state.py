"""Each platform's row in ``channel_state``: what operators see (last event, last send, an
alert that needs a person) and, for Zalo, the token pair (zalo.py)."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import or_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from feedback_api.channels.orm import ChannelState
from feedback_api.db import Database, utcnow

log = logging.getLogger(__name__)
NOTE_EVERY_SECONDS = 5.0  # last event / last send are noted to this precision


def get_state(session: Session, platform: str) -> ChannelState:
    """The platform's row, created on first use (two processes creating it at once is fine)."""
    row = session.get(ChannelState, platform)
    if row is not None:
        return row
    try:
        with session.begin_nested():
            row = ChannelState(platform=platform, token_version=0)
            session.add(row)
    except IntegrityError:
        row = session.get(ChannelState, platform, populate_existing=True)
        if row is None:
            raise
    return row


def _touch(session: Session, platform: str, column, now: datetime) -> None:
    """Set ``column`` to ``now`` unless it was set less than NOTE_EVERY ago.

    A conditional UPDATE: every webhook and every send would otherwise queue on this one row
    per platform (PostgreSQL row locks, seen under load); a row that does not match is not
    locked. The row is created on first use.
    """
    stale = now - timedelta(seconds=NOTE_EVERY_SECONDS)
    result = session.execute(
        update(ChannelState)
        .where(ChannelState.platform == platform, or_(column.is_(None), column < stale))
        .values({column.key: now})
        .execution_options(synchronize_session=False))
    if not result.rowcount and session.get(ChannelState, platform) is None:
        setattr(get_state(session, platform), column.key, now)


def record_event(session: Session, platform: str, now: datetime | None = None) -> None:
    _touch(session, platform, ChannelState.last_event_at, now or utcnow())


def record_send(database: Database, platform: str, now: datetime | None = None,
                *, clear_alert: bool = True) -> None:
    """A platform accepted a message: note when (to the nearest few seconds), and end an alert
    the success disproves."""
    now = now or utcnow()
    with database.session() as session:
        _touch(session, platform, ChannelState.last_send_at, now)
        if clear_alert:
            cleared = session.execute(
                update(ChannelState)
                .where(ChannelState.platform == platform, ChannelState.alert.is_not(None))
                .values(alert=None, alert_at=None, last_send_at=now)
                .execution_options(synchronize_session=False)).rowcount
            if cleared:
                log.info("%s: alert cleared by a successful send", platform)


def set_alert(database: Database, platform: str, text: str, now: datetime | None = None) -> None:
    """Something an operator must fix (shown on /readyz and in the inbox admin; logged)."""
    with database.session() as session:
        row = get_state(session, platform)
        row.alert, row.alert_at = text, now or utcnow()
    log.error("%s needs an operator: %s", platform, text)
