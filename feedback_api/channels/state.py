"""Each platform's row in ``channel_state``: what operators see (last event, last send, an
alert that needs a person) and, for Zalo, the token pair (zalo.py)."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from feedback_api.channels.orm import ChannelState
from feedback_api.db import Database, utcnow

log = logging.getLogger(__name__)


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


def record_event(session: Session, platform: str, now: datetime | None = None) -> None:
    get_state(session, platform).last_event_at = now or utcnow()


def record_send(database: Database, platform: str, now: datetime | None = None,
                *, clear_alert: bool = True) -> None:
    """A platform accepted a message: note when, and end an alert the success disproves."""
    with database.session() as session:
        row = get_state(session, platform)
        row.last_send_at = now or utcnow()
        if clear_alert and row.alert:
            row.alert, row.alert_at = None, None
            log.info("%s: alert cleared by a successful send", platform)


def set_alert(database: Database, platform: str, text: str, now: datetime | None = None) -> None:
    """Something an operator must fix (shown on /readyz and in the inbox admin; logged)."""
    with database.session() as session:
        row = get_state(session, platform)
        row.alert, row.alert_at = text, now or utcnow()
    log.error("%s needs an operator: %s", platform, text)
