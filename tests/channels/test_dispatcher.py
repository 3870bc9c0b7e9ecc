"""The dispatcher on its own (one database, the stand-in Rasa): who goes first, digits for
numbered choices, the citizen's own commands. The whole path is tests/channels/test_gateway.py."""

from __future__ import annotations

from datetime import timedelta

import pytest

from feedback_api.channels import messenger
from feedback_api.channels.base import Inbound
from feedback_api.channels.dispatcher import Dispatcher, Platform
from feedback_api.channels.orm import ChannelEvent, ChannelUser
from feedback_api.channels.store import store_events
from feedback_api.chat.rasa import RasaClient
from feedback_api.db import Database, utcnow
from feedback_api.migrate import migrate_and_seed
from feedback_api.notify.orm import OutboxMessage
from tests.chat.fake_rasa import FakeRasa


@pytest.fixture(scope="module")
def rasa():
    fake = FakeRasa().start()
    yield fake
    fake.stop()


@pytest.fixture
def setup(tmp_path, rasa):
    url = f"sqlite:///{tmp_path / 'caunoi.db'}"
    migrate_and_seed(url)
    database = Database(url)
    dispatcher = Dispatcher(database, RasaClient(rasa.url, 4),
                            {"messenger": Platform("messenger", messenger.render)})
    yield database, dispatcher
    database.dispose()


def said(rasa, user: str) -> list[str]:
    return [r["message"] for r in rasa.received if r["sender"] == f"messenger:{user}"]


def event(user: str, key: str, text: str, ms: int) -> Inbound:
    return Inbound(event_key=key, user_id=user, kind="text", text=text, timestamp_ms=ms)


def test_a_citizen_waiting_for_rasa_does_not_hold_up_the_others(setup, rasa):
    database, dispatcher = setup
    now_ms = int(utcnow().timestamp() * 1000)
    store_events(database, "messenger", [event("a", "a1", "một", now_ms),
                                         event("a", "a2", "hai", now_ms + 1),
                                         event("b", "b1", "ba", now_ms + 2)])
    with database.session() as session:  # a's first message waits (Rasa was down)
        first = session.query(ChannelEvent).filter_by(event_key="a1").one()
        first.next_attempt_at = utcnow() + timedelta(minutes=5)
    while dispatcher.run_once():
        pass
    assert said(rasa, "b") == ["ba"]
    assert said(rasa, "a") == []  # its second message waits behind its first


def test_a_digit_answers_the_numbered_choices_and_commands_stay_local(setup, rasa):
    database, dispatcher = setup
    now_ms = int(utcnow().timestamp() * 1000)
    store_events(database, "messenger", [event("c", "c0", "xin chào", now_ms)])
    dispatcher.run_once()
    with database.session() as session:
        session.get(ChannelUser, ("messenger", "c")).choices = {"1": "/affirm", "2": "/deny"}
    store_events(database, "messenger", [event("c", "c1", " 2. ", now_ms + 1),
                                         event("c", "c2", "dung thong bao", now_ms + 2)])
    while dispatcher.run_once():
        pass
    assert said(rasa, "c") == ["xin chào", "/deny"]
    with database.session() as session:
        assert session.get(ChannelUser, ("messenger", "c")).notices_off is True
        turns = session.query(OutboxMessage).filter(
            OutboxMessage.dedupe_key.like("turn:messenger:%")).order_by(OutboxMessage.id).all()
    last = turns[-1].payload["parts"][0]["text"]
    assert "không gửi tin cập nhật" in last
