"""Zalo OA: webhook signature, parsing and rendering (pure), then sending and the token pair
against the fake Zalo server (tests/fakes/platforms.py) with a real database."""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from starlette.datastructures import Headers

from feedback_api.channels import zalo, zalo_api
from feedback_api.channels.base import Rejected, TokenInvalid, WindowClosed
from feedback_api.channels.orm import ChannelState
from feedback_api.channels.render import NUMBERED_HINT
from feedback_api.db import Database
from feedback_api.migrate import migrate_and_seed
from feedback_api.notify.senders import SendError
from feedback_api.settings import Settings
from tests.fakes.platforms import (
    FakeZalo,
    zalo_echo_event,
    zalo_event,
    zalo_follow_event,
    zalo_headers,
    zalo_image_event,
    zalo_location_event,
    zalo_signature,
)

APP_ID = "3608465248940903967"
APP_SECRET = "app-secret-for-tests"
OA_SECRET = "oa-secret-for-tests"
USER = "246845883529197922"


def now_ms() -> int:
    return int(time.time() * 1000)


def check(raw: bytes, headers, now: float | None = None) -> bool:
    return zalo.verify(raw, headers, app_id=APP_ID, oa_secret=OA_SECRET,
                       now=time.time() if now is None else now)


def rejected(raw: bytes, headers, now: float | None = None) -> Rejected:
    with pytest.raises(Rejected) as caught:
        check(raw, headers, now)
    return caught.value


# --- verify ----------------------------------------------------------------------------------

def test_good_signature_with_the_header_timestamp():
    raw = zalo_event(app_id=APP_ID, user_id=USER, text="Xin chào")
    assert check(raw, Headers(zalo_headers(raw, app_id=APP_ID, oa_secret=OA_SECRET))) is True


def test_good_signature_with_the_body_timestamp_only():
    raw = zalo_event(app_id=APP_ID, user_id=USER, text="Xin chào")
    headers = zalo_headers(raw, app_id=APP_ID, oa_secret=OA_SECRET, header_timestamp=False)
    assert "X-ZEvent-Timestamp" not in headers
    assert check(raw, headers) is True
    assert check(raw, {k.lower(): v for k, v in headers.items()}) is True  # any header case


def test_a_header_timestamp_that_was_not_signed_falls_back_to_the_body():
    raw = zalo_event(app_id=APP_ID, user_id=USER, text="Xin chào")
    headers = zalo_headers(raw, app_id=APP_ID, oa_secret=OA_SECRET, header_timestamp=False)
    headers["X-ZEvent-Timestamp"] = str(now_ms() - 5)
    assert check(raw, headers) is True


def test_a_signature_over_the_header_timestamp_when_the_body_has_another():
    stamp = now_ms()
    raw = zalo_event(app_id=APP_ID, user_id=USER, text="Xin chào", timestamp_ms=stamp - 1000)
    headers = zalo_headers(raw, app_id=APP_ID, oa_secret=OA_SECRET, timestamp_ms=str(stamp))
    assert check(raw, headers) is True


@pytest.mark.parametrize("raw", [b"{}", b"{ }", b" {}\n", b"{\n}"])
def test_the_unsigned_setup_probe_is_answered_but_not_an_event(raw):
    assert check(raw, {}) is False


@pytest.mark.parametrize("raw", [b"", b"[]", b'{"a": 1}',
                                 zalo_event(app_id=APP_ID, user_id=USER, text="Xin chào")])
def test_unsigned_requests_are_refused(raw):
    assert rejected(raw, {"Content-Type": "application/json"}).status == 401


def test_a_signed_probe_must_be_genuine():
    raw = b"{}"
    headers = {"X-ZEvent-Signature": zalo_signature(APP_ID, raw, str(now_ms()), "wrong"),
               "X-ZEvent-Timestamp": str(now_ms())}
    assert rejected(raw, headers).status == 401


@pytest.mark.parametrize("forge", [
    "wrong secret", "app secret instead", "hmac", "body changed", "truncated", "empty",
])
def test_forged_signatures_are_refused(forge):
    raw = zalo_event(app_id=APP_ID, user_id=USER, text="Xin chào")
    stamp = json.loads(raw)["timestamp"]
    headers = {"X-ZEvent-Timestamp": stamp}
    if forge == "wrong secret":
        headers["X-ZEvent-Signature"] = zalo_signature(APP_ID, raw, stamp, "guess")
    elif forge == "app secret instead":
        headers["X-ZEvent-Signature"] = zalo_signature(APP_ID, raw, stamp, APP_SECRET)
    elif forge == "hmac":
        mac = hmac.new(OA_SECRET.encode(), raw, hashlib.sha256).hexdigest()
        headers["X-ZEvent-Signature"] = "mac=" + mac
    elif forge == "body changed":
        headers["X-ZEvent-Signature"] = zalo_signature(APP_ID, raw, stamp, OA_SECRET)
        raw = raw.replace("Xin chào".encode(), "Tạm biệt".encode())
    elif forge == "truncated":
        headers["X-ZEvent-Signature"] = zalo_signature(APP_ID, raw, stamp, OA_SECRET)[:-1]
    else:
        headers["X-ZEvent-Signature"] = "mac="
    assert rejected(raw, headers).status == 401


@pytest.mark.parametrize("offset", [-11 * 60, 11 * 60])
def test_old_or_future_events_are_stale(offset):
    raw = zalo_event(app_id=APP_ID, user_id=USER, text="Xin chào",
                     timestamp_ms=now_ms() + offset * 1000)
    error = rejected(raw, zalo_headers(raw, app_id=APP_ID, oa_secret=OA_SECRET))
    assert (error.status, error.reason) == (403, "stale event")


def test_an_event_nine_minutes_old_is_accepted():
    raw = zalo_event(app_id=APP_ID, user_id=USER, text="Xin chào",
                     timestamp_ms=now_ms() - 9 * 60 * 1000)
    assert check(raw, zalo_headers(raw, app_id=APP_ID, oa_secret=OA_SECRET)) is True


def test_a_signed_body_that_is_not_json_is_a_bad_request():
    raw = b"event_name=user_send_text"
    stamp = str(now_ms())
    headers = {"X-ZEvent-Signature": zalo_signature(APP_ID, raw, stamp, OA_SECRET),
               "X-ZEvent-Timestamp": stamp}
    assert rejected(raw, headers).status == 400


def test_a_signed_body_without_any_timestamp_is_a_bad_request():
    raw = json.dumps({"event_name": "user_send_text"}).encode()
    headers = {"X-ZEvent-Signature": zalo_signature(APP_ID, raw, "", OA_SECRET)}
    assert rejected(raw, headers).status == 400


# --- parse -----------------------------------------------------------------------------------

def one(raw: bytes):
    events = zalo.parse(raw)
    assert len(events) == 1, events
    return events[0]


def test_parse_text():
    event = one(zalo_event(app_id=APP_ID, user_id=USER, text=" Thủ tục cấp sổ đỏ? ",
                           msg_id="96d3cdf3af150460909", timestamp_ms=1700000000000))
    assert (event.kind, event.text, event.event_key, event.user_id, event.timestamp_ms) == (
        "text", "Thủ tục cấp sổ đỏ?", "96d3cdf3af150460909", USER, 1700000000000)
    assert isinstance(event.user_id, str)


def test_a_tapped_button_arrives_as_a_payload_text():
    event = one(zalo_event(app_id=APP_ID, user_id=USER, text='/chon_linh_vuc{"x": "dat_dai"}'))
    assert (event.kind, event.text) == ("payload", '/chon_linh_vuc{"x": "dat_dai"}')


def test_parse_location_with_string_coordinates():
    event = one(zalo_location_event(app_id=APP_ID, user_id=USER, latitude="22.4856",
                                    longitude="103.9707"))
    assert (event.kind, event.location) == ("location", (22.4856, 103.9707))


def test_parse_location_with_numeric_lat_long():
    attachment = {"type": "location",
                  "payload": {"coordinates": {"lat": 22.4856, "long": 103.9707}}}
    event = one(zalo_event(app_id=APP_ID, user_id=USER, event_name="user_send_location",
                           attachments=[attachment]))
    assert event.location == (22.4856, 103.9707)


@pytest.mark.parametrize("place", [{"latitude": "22.4856", "longitude": "103.9707"},
                                   {"lat": 22.4856, "long": 103.9707}])
def test_parse_location_in_message_location(place):
    body = json.loads(zalo_event(app_id=APP_ID, user_id=USER, event_name="user_send_location"))
    body["message"]["location"] = place
    assert one(json.dumps(body).encode()).location == (22.4856, 103.9707)


def test_parse_image_with_caption():
    event = one(zalo_image_event(app_id=APP_ID, user_id=USER, url="https://f.zdn.vn/a.jpg",
                                 text="Ổ gà trước cổng trường"))
    assert (event.kind, event.attachments, event.text) == (
        "image", ("https://f.zdn.vn/a.jpg",), "Ổ gà trước cổng trường")


def test_image_addresses_that_are_not_web_addresses_are_dropped():
    attachments = [{"type": "image", "payload": {"url": "javascript:alert(1)"}},
                   {"type": "image", "payload": {"url": "http://f.zdn.vn/b.jpg"}}]
    event = one(zalo_event(app_id=APP_ID, user_id=USER, event_name="user_send_image",
                           attachments=attachments))
    assert event.attachments == ("http://f.zdn.vn/b.jpg",)


def test_parse_follow():
    event = one(zalo_follow_event(app_id=APP_ID, user_id=USER, timestamp_ms=1543979782740))
    assert (event.kind, event.user_id, event.event_key) == (
        "follow", USER, f"follow:{USER}:1543979782740")


@pytest.mark.parametrize("name", ["user_send_sticker", "user_send_gif", "user_send_audio",
                                  "user_send_video", "user_send_file", "user_send_link",
                                  "user_send_business_card"])
def test_other_messages_are_unsupported(name):
    event = one(zalo_event(app_id=APP_ID, user_id=USER, event_name=name, msg_id="m1",
                           attachments=[{"type": "sticker", "payload": {"id": "1"}}]))
    assert (event.kind, event.event_key, event.user_id) == ("unsupported", "m1", USER)


def test_echoes_receipts_and_unknown_events_are_ignored():
    bodies = [
        zalo_echo_event(app_id=APP_ID, user_id=USER, text="Chào bạn"),
        zalo_echo_event(app_id=APP_ID, user_id=USER, text="Chào bạn", admin_id="123"),
        zalo_follow_event(app_id=APP_ID, user_id=USER, event_name="unfollow"),
        zalo_event(app_id=APP_ID, user_id=USER, event_name="oa_send_image", attachments=[]),
        zalo_event(app_id=APP_ID, user_id=USER, event_name="user_received_message"),
        zalo_event(app_id=APP_ID, user_id=USER, event_name="user_seen_message"),
        zalo_event(app_id=APP_ID, user_id=USER, event_name="anonymous_send_text", text="hi"),
        zalo_event(app_id=APP_ID, user_id=USER, event_name="user_submit_info"),
        zalo_event(app_id=APP_ID, user_id=USER, event_name="something_new", text="hi"),
    ]
    for raw in bodies:
        assert zalo.parse(raw) == [], raw


def leaves(data, path=()):
    """Every path into a JSON document (objects and lists), the document itself first."""
    yield path
    items = data.items() if isinstance(data, dict) else enumerate(data) \
        if isinstance(data, list) else ()
    for key, value in items:
        yield from leaves(value, (*path, key))


def replaced(document, path, value):
    if not path:
        return value
    copied = copy.deepcopy(document)
    target = copied
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return copied


GARBAGE = [None, 7, -1.5, True, "", "x" * 300, [], {}, ["a"], {"id": None}, "nan", "inf"]


@pytest.mark.parametrize("raw", [
    zalo_event(app_id=APP_ID, user_id=USER, text="Xin chào"),
    zalo_location_event(app_id=APP_ID, user_id=USER),
    zalo_image_event(app_id=APP_ID, user_id=USER, url="https://f.zdn.vn/a.jpg", text="ảnh"),
    zalo_follow_event(app_id=APP_ID, user_id=USER),
    zalo_event(app_id=APP_ID, user_id=USER, event_name="user_send_file", attachments=[{}]),
])
def test_garbage_in_any_field_never_raises(raw):
    document = json.loads(raw)
    for path in leaves(document):
        for value in GARBAGE:
            events = zalo.parse(json.dumps(replaced(document, path, value)).encode())
            for event in events:
                assert isinstance(event.user_id, str) and 0 < len(event.user_id) <= 200
                assert isinstance(event.event_key, str) and 0 < len(event.event_key) <= 200
                if event.location:
                    assert all(isinstance(c, float) for c in event.location)
    for raw_garbage in (b"", b"\xff\xfe", b"null", b"[1, 2]", b'"text"', b"{", raw[:-1]):
        assert zalo.parse(raw_garbage) == []


def test_ids_longer_than_200_characters_are_skipped():
    assert zalo.parse(zalo_event(app_id=APP_ID, user_id="1" * 201, text="Xin chào")) == []
    assert zalo.parse(zalo_event(app_id=APP_ID, user_id=USER, text="hi", msg_id="m" * 201)) == []
    assert len(zalo.parse(zalo_event(app_id=APP_ID, user_id="1" * 200, text="Xin chào"))) == 1


def test_out_of_range_coordinates_are_skipped():
    raw = zalo_location_event(app_id=APP_ID, user_id=USER, latitude="91", longitude="103.9")
    assert zalo.parse(raw) == []


# --- render ----------------------------------------------------------------------------------

SENTENCE = "Hồ sơ gồm đơn đề nghị có xác nhận của Ủy ban nhân dân cấp xã. "


def buttons(n: int, title: str = "Lựa chọn") -> list[dict]:
    return [{"title": f"{title} {i}", "payload": f'/chon{{"so": {i}}}'} for i in range(1, n + 1)]


def test_long_text_is_split_at_2000_on_a_sentence_boundary():
    text = SENTENCE * 60  # about 3 700 characters
    parts = zalo.render([{"text": text}]).parts
    assert len(parts) == 2
    assert all(len(part["text"]) <= zalo.MAX_TEXT for part in parts)
    assert parts[0]["text"].endswith("cấp xã.")
    assert " ".join(part["text"] for part in parts) == text.strip()


def test_up_to_four_buttons_go_on_the_last_part_as_hidden_queries():
    rendered = zalo.render([{"text": SENTENCE * 60, "buttons": buttons(4)}])
    first, last = rendered.parts
    assert "attachment" not in first
    assert last["attachment"] == {"type": "template", "payload": {"buttons": [
        {"title": f"Lựa chọn {i}", "type": "oa.query.hide", "payload": f'/chon{{"so": {i}}}'}
        for i in range(1, 5)]}}
    assert rendered.choices == {}


def test_five_buttons_become_numbered_text_with_choices():
    rendered = zalo.render([{"text": "Bạn hỏi về lĩnh vực nào?", "buttons": buttons(5)}])
    (part,) = rendered.parts
    assert "attachment" not in part
    assert part["text"].splitlines() == ["Bạn hỏi về lĩnh vực nào?"] + [
        f"{i}. Lựa chọn {i}" for i in range(1, 6)] + [NUMBERED_HINT]
    assert rendered.choices == {str(i): f'/chon{{"so": {i}}}' for i in range(1, 6)}


def test_a_title_longer_than_35_characters_makes_the_list_numbered():
    long = [{"title": "Đăng ký thường trú cho con dưới 14 tuổi", "payload": "/a"},
            {"title": "Khác", "payload": "/b"}]
    rendered = zalo.render([{"text": "Chọn thủ tục", "buttons": long}])
    assert "attachment" not in rendered.parts[0]
    assert rendered.choices == {"1": "/a", "2": "/b"}


def test_buttons_without_text_get_a_prompt_and_images_and_custom_are_handled():
    rendered = zalo.render([
        {"custom": {"citations": []}},
        {"image": "https://caunoi.example/a.png"},
        {"buttons": buttons(2)},
    ])
    assert [part["text"] for part in rendered.parts] == [
        "https://caunoi.example/a.png", zalo.CHOOSE]
    assert len(rendered.parts[1]["attachment"]["payload"]["buttons"]) == 2


def test_a_later_numbered_list_replaces_an_earlier_one():
    rendered = zalo.render([{"text": "Một", "buttons": buttons(6)},
                            {"text": "Hai", "buttons": buttons(5, "Khác")}])
    assert rendered.choices == {str(i): f'/chon{{"so": {i}}}' for i in range(1, 6)}
    assert rendered.parts[-1]["text"].startswith("Hai\n1. Khác 1")


# --- the client, against the fake Zalo -------------------------------------------------------

@pytest.fixture
def db_url(tmp_path) -> str:
    url = f"sqlite:///{tmp_path / 'caunoi.db'}"
    migrate_and_seed(url)
    return url


@pytest.fixture
def database(db_url) -> Iterator[Database]:
    db = Database(db_url)
    yield db
    db.dispose()


@pytest.fixture
def fake() -> Iterator[FakeZalo]:
    server = FakeZalo(app_id=APP_ID, app_secret=APP_SECRET, access_token="access-0",
                      refresh_token="refresh-0").start()
    yield server
    server.stop()


def settings_for(fake: FakeZalo, tmp_path, db_url: str, **override) -> Settings:
    values = {"zalo_app_id": APP_ID, "zalo_app_secret": APP_SECRET, "zalo_oa_secret": OA_SECRET,
              "zalo_refresh_token": "refresh-0", "zalo_access_token": "access-0",
              "zalo_openapi_url": fake.url, "zalo_oauth_url": fake.url, **override}
    return Settings(load_search=False, data_dir=tmp_path, database_url=db_url, **values)


@pytest.fixture
def client(database, fake, tmp_path, db_url) -> zalo_api.ZaloClient:
    zalo_client = zalo_api.ZaloClient(database, settings_for(fake, tmp_path, db_url), timeout=2)
    zalo_client.seed()
    return zalo_client


def state(database: Database) -> ChannelState:
    with database.session() as session:
        return session.get(ChannelState, "zalo", populate_existing=True)


def test_send_delivers_and_records_the_send(client, fake, database):
    before = datetime.now(UTC)
    message_id = client.send(USER, {"text": "Xin chào"})
    (sent,) = fake.sent
    assert (sent["user_id"], sent["message"], sent["access_token"], sent["message_id"]) == (
        USER, {"text": "Xin chào"}, "access-0", message_id)
    assert state(database).last_send_at >= before - timedelta(seconds=1)
    assert fake.refreshes == []


def test_rendered_parts_are_accepted_by_zalo(client, fake):
    rendered = zalo.render([{"text": SENTENCE * 40, "buttons": buttons(4)},
                            {"image": "https://caunoi.example/a.png"},
                            {"text": "Chọn", "buttons": buttons(7)}])
    for part in rendered.parts:
        client.send(USER, part)
    assert fake.failed == []
    assert [entry["message"] for entry in fake.sent] == rendered.parts


@pytest.mark.parametrize("how", ["close_window", "error:-230", "error:-232"])
def test_a_closed_window_is_not_retried(client, fake, how):
    if how == "close_window":
        fake.close_window(USER)
    else:
        fake.fail_next(1, how)
    with pytest.raises(WindowClosed) as caught:
        client.send(USER, {"text": "Xin chào"})
    assert caught.value.retryable is False
    assert USER not in caught.value.reason and "7 ngày" in caught.value.reason
    assert len(fake.requests) == 1 and fake.sent == []


@pytest.mark.parametrize("mode", ["http500", "error:-32"])
def test_server_errors_and_rate_limits_are_retryable(client, fake, mode):
    fake.fail_next(1, mode)
    with pytest.raises(SendError) as caught:
        client.send(USER, {"text": "Xin chào"})
    assert caught.value.retryable is True
    assert not isinstance(caught.value, WindowClosed | TokenInvalid)
    assert len(fake.requests) == 1 and fake.sent == []


def test_a_timeout_is_retryable(database, fake, tmp_path, db_url):
    fake.timeout_seconds = 1.0
    client = zalo_api.ZaloClient(database, settings_for(fake, tmp_path, db_url), timeout=0.3)
    client.seed()
    fake.fail_next(1, "timeout")
    started = time.monotonic()
    with pytest.raises(SendError) as caught:
        client.send(USER, {"text": "Xin chào"})
    assert caught.value.retryable is True and time.monotonic() - started < 1.0


def test_a_connection_failure_is_retryable(client, fake):
    fake.stop()
    with pytest.raises(SendError) as caught:
        client.send(USER, {"text": "Xin chào"})
    assert caught.value.retryable is True


def test_other_errors_are_not_retried(client, fake):
    fake.fail_next(1, "error:-201")
    with pytest.raises(SendError) as caught:
        client.send(USER, {"text": "Xin chào"})
    assert (caught.value.reason, caught.value.retryable) == ("Zalo lỗi -201", False)


def test_an_expired_token_is_refreshed_once_and_the_message_sent_once(client, fake, database):
    fake.expire_token()
    client.send(USER, {"text": "Xin chào"})
    assert len(fake.refreshes) == 1 and fake.reused_refresh_tokens == 0
    assert [entry["message"] for entry in fake.sent] == [{"text": "Xin chào"}]
    row = state(database)
    assert (row.access_token, row.refresh_token) == (fake.access_token, fake.refresh_token)
    assert row.token_version == 2 and row.refresh_lease_until is None
    expected = datetime.now(UTC) + timedelta(seconds=90000)
    assert abs((row.token_expires_at - expected).total_seconds()) < 5
    assert fake.sent[0]["access_token"] == fake.access_token


def test_a_token_refused_after_refresh_raises_token_invalid(client, fake, database):
    fake.fail_next(2, "error:-216")
    with pytest.raises(TokenInvalid):
        client.send(USER, {"text": "Xin chào"})
    assert len(fake.refreshes) == 1 and fake.sent == []
    assert "làm mới" in client.health()["alert"]


def test_a_refused_refresh_raises_token_invalid_and_alerts(database, fake, tmp_path, db_url):
    settings = settings_for(fake, tmp_path, db_url, zalo_refresh_token="dead-refresh-token",
                            zalo_access_token="")
    client = zalo_api.ZaloClient(database, settings, timeout=2)
    client.seed()
    with pytest.raises(TokenInvalid) as caught:
        client.send(USER, {"text": "Xin chào"})
    assert caught.value.retryable is False
    alert = client.health()["alert"]
    assert alert.startswith(zalo_api.REFRESH_FAILED) and "-14014" in alert
    assert "dead-refresh-token" not in alert
    assert fake.sent == [] and fake.reused_refresh_tokens == 1
    row = state(database)
    assert row.refresh_lease_until is None and row.token_version == 1  # lease released


def test_a_successful_send_clears_the_alert(client, fake, database):
    fake.fail_next(2, "error:-216")
    with pytest.raises(TokenInvalid):
        client.send(USER, {"text": "Xin chào"})
    client.send(USER, {"text": "Xin chào"})
    assert client.health()["alert"] is None


def test_refresh_server_errors_are_retryable_and_release_the_lease(database, tmp_path, db_url):
    fake = FakeZalo(app_id=APP_ID, app_secret=APP_SECRET, access_token="a",
                    refresh_token="r").start()
    url = fake.url
    fake.stop()  # nothing listens: the refresh cannot connect
    settings = settings_for(fake, tmp_path, db_url, zalo_access_token="",
                            zalo_oauth_url=url, zalo_openapi_url=url)
    client = zalo_api.ZaloClient(database, settings, timeout=2)
    client.seed()
    with pytest.raises(SendError) as caught:
        client.refresh()
    assert caught.value.retryable is True
    row = state(database)
    assert row.refresh_lease_until is None and row.alert is None


def test_a_lease_left_by_a_crashed_process_expires(client, fake, database):
    with database.session() as session:
        session.get(ChannelState, "zalo").refresh_lease_until = (
            datetime.now(UTC) - timedelta(seconds=1))
    client.refresh()
    assert len(fake.refreshes) == 1 and state(database).token_version == 2


def test_a_refresh_that_another_process_did_is_not_repeated(client, fake, database):
    client.refresh(failed_version=0)  # version 1 is already past it
    assert fake.refreshes == []


def send_at_once(db_url: str, settings: Settings, count: int) -> list[BaseException]:
    """``count`` threads, each with its own database engine and client (as separate processes
    would have), sending one message each at the same moment."""
    barrier = threading.Barrier(count)
    errors: list[BaseException] = []

    def run(n: int) -> None:
        database = Database(db_url)
        try:
            client = zalo_api.ZaloClient(database, settings, timeout=2)
            barrier.wait()
            client.send(USER, {"text": f"Tin số {n}"})
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)
        finally:
            database.dispose()

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return errors


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_eight_senders_with_an_expired_token_refresh_exactly_once(backend, fake, tmp_path,
                                                                  db_url):
    if backend == "postgresql":
        from tests.feedback_api.conftest import PG_ADMIN_URL, fresh_pg_database

        with fresh_pg_database("caunoi_zalo") as name:
            url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
            migrate_and_seed(url)
            run_eight(url, fake, tmp_path)
    else:
        run_eight(db_url, fake, tmp_path)


def run_eight(url: str, fake: FakeZalo, tmp_path) -> None:
    settings = settings_for(fake, tmp_path, url)
    database = Database(url)
    try:
        zalo_api.ZaloClient(database, settings).seed()
        fake.expire_token()
        assert send_at_once(url, settings, 8) == []
        assert len(fake.refreshes) == 1 and fake.reused_refresh_tokens == 0
        texts = sorted(entry["message"]["text"] for entry in fake.sent)
        assert texts == sorted(f"Tin số {n}" for n in range(8))
        row = state(database)
        assert (row.access_token, row.refresh_token) == (fake.access_token, fake.refresh_token)
        assert row.token_version == 2
    finally:
        database.dispose()


def test_seed_keeps_the_database_pair_while_the_environment_is_unchanged(client, fake,
                                                                         database):
    client.refresh()
    rotated = (fake.access_token, fake.refresh_token)
    client.seed()  # a restart: the environment still holds the dead refresh token
    row = state(database)
    assert (row.access_token, row.refresh_token, row.token_version) == (*rotated, 2)
    client.send(USER, {"text": "Xin chào"})
    assert len(fake.refreshes) == 1 and fake.reused_refresh_tokens == 0


def test_seed_takes_a_new_refresh_token_from_the_environment(client, fake, database, tmp_path,
                                                             db_url):
    client.refresh()
    settings = settings_for(fake, tmp_path, db_url, zalo_refresh_token=fake.refresh_token,
                            zalo_access_token="")
    zalo_api.ZaloClient(database, settings).seed()
    row = state(database)
    assert (row.access_token, row.refresh_token, row.token_expires_at, row.token_version) == (
        None, fake.refresh_token, None, 3)
    assert row.seed_fingerprint == hashlib.sha256(fake.refresh_token.encode()).hexdigest()
    zalo_api.ZaloClient(database, settings, timeout=2).send(USER, {"text": "Xin chào"})
    assert len(fake.refreshes) == 2 and fake.reused_refresh_tokens == 0


def test_a_missing_access_token_is_refreshed_before_sending(database, fake, tmp_path, db_url):
    settings = settings_for(fake, tmp_path, db_url, zalo_access_token="")
    client = zalo_api.ZaloClient(database, settings, timeout=2)
    client.seed()
    client.send(USER, {"text": "Xin chào"})
    assert len(fake.refreshes) == 1 and fake.failed == []
    assert fake.sent[0]["access_token"] == fake.access_token


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def test_a_token_expiring_within_ten_minutes_is_refreshed_before_sending(database, fake,
                                                                          tmp_path, db_url):
    clock = Clock()
    client = zalo_api.ZaloClient(database, settings_for(fake, tmp_path, db_url), timeout=2,
                             clock=clock)
    client.seed()
    client.refresh()
    clock.now += 90000 - 300
    client.send(USER, {"text": "Xin chào"})
    assert len(fake.refreshes) == 2 and fake.failed == []


def test_ensure_fresh_refreshes_ahead_of_expiry(database, fake, tmp_path, db_url):
    clock = Clock()
    client = zalo_api.ZaloClient(database, settings_for(fake, tmp_path, db_url), timeout=2,
                             clock=clock)
    client.seed()
    assert client.ensure_fresh() is False  # a seeded token of unknown age: -216 refreshes it
    client.refresh()
    start = clock.now
    assert client.ensure_fresh() is False
    clock.now = start + 90000 - 3 * 3600  # 3 h left of 25 h: not yet (margin 2.5 h)
    assert client.ensure_fresh() is False and len(fake.refreshes) == 1
    clock.now = start + 90000 - 2 * 3600
    assert client.ensure_fresh() is True and len(fake.refreshes) == 2
    assert client.ensure_fresh() is False
    health = client.health()
    assert health["token_version"] == 3 and health["alert"] is None
    assert datetime.fromisoformat(health["token_expires_at"]).timestamp() == pytest.approx(
        clock.now + 90000, abs=1)


def test_ensure_fresh_never_loops_on_short_lived_tokens(database, tmp_path, db_url):
    fake = FakeZalo(app_id=APP_ID, app_secret=APP_SECRET, access_token="access-0",
                    refresh_token="refresh-0", expires_in=3600).start()
    try:
        clock = Clock()
        client = zalo_api.ZaloClient(database, settings_for(fake, tmp_path, db_url,
                                                        zalo_access_token=""),
                                 timeout=2, clock=clock)
        client.seed()
        assert client.ensure_fresh() is True  # no access token at all
        clock.now += 60
        assert client.ensure_fresh() is False
        clock.now += 1800
        assert client.ensure_fresh() is True and len(fake.refreshes) == 2
    finally:
        fake.stop()
