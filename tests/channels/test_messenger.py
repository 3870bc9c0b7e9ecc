"""Messenger: webhook checks, parsing, rendering (pure) and the Send API against a fake Graph."""

from __future__ import annotations

import hashlib
import hmac
import json
import shutil
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from feedback_api.channels import messenger, messenger_api
from feedback_api.channels.base import Rejected, TokenInvalid, WindowClosed
from feedback_api.channels.render import NUMBERED_HINT
from feedback_api.db import Database
from feedback_api.migrate import migrate_and_seed
from feedback_api.notify.senders import SendError
from feedback_api.settings import Settings
from tests.fakes.platforms import FakeMeta

SECRET = "app-secret-for-tests"
VERIFY = "verify-token-for-tests"


def sign(raw: bytes, secret: str = SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()


# --- verify_subscription ---------------------------------------------------------------------

def subscription(**override) -> dict:
    params = {"hub.mode": "subscribe", "hub.verify_token": VERIFY, "hub.challenge": "1158201444"}
    params.update(override)
    return {k: v for k, v in params.items() if v is not None}


def test_subscription_returns_the_challenge():
    assert messenger.verify_subscription(subscription(), verify_token=VERIFY) == "1158201444"


@pytest.mark.parametrize("override", [
    {"hub.verify_token": "wrong"},
    {"hub.verify_token": None},
    {"hub.mode": "unsubscribe"},
    {"hub.mode": None},
    {"hub.challenge": None},
    {"hub.challenge": ""},
    {"hub.challenge": "x" * 201},
])
def test_subscription_refused(override):
    with pytest.raises(Rejected) as caught:
        messenger.verify_subscription(subscription(**override), verify_token=VERIFY)
    assert caught.value.status == 403


def test_subscription_refused_when_no_verify_token_is_configured():
    with pytest.raises(Rejected):
        messenger.verify_subscription(subscription(**{"hub.verify_token": ""}), verify_token="")


# --- verify ----------------------------------------------------------------------------------

RAW = json.dumps({"object": "page", "entry": [], "note": "Xin chào"}).encode()


def test_signature_good_in_any_header_case():
    messenger.verify(RAW, {"X-Hub-Signature-256": sign(RAW)}, app_secret=SECRET)
    messenger.verify(RAW, {"x-hub-signature-256": sign(RAW)}, app_secret=SECRET)


@pytest.mark.parametrize("headers", [
    {},
    {"X-Hub-Signature": "sha1=" + hmac.new(SECRET.encode(), RAW, hashlib.sha1).hexdigest()},
    {"X-Hub-Signature-256": ""},
])
def test_signature_missing_is_401(headers):
    with pytest.raises(Rejected) as caught:
        messenger.verify(RAW, headers, app_secret=SECRET)
    assert (caught.value.status, caught.value.reason) == (401, "missing signature")


@pytest.mark.parametrize("value", [
    sign(RAW, "another-secret"),
    sign(RAW + b" "),
    "md5=" + hashlib.md5(RAW).hexdigest(),
    "md5=" + hmac.new(SECRET.encode(), RAW, hashlib.md5).hexdigest(),
    "sha256=" + "zz" * 32,
    "sha256=" + hmac.new(SECRET.encode(), RAW, hashlib.sha256).hexdigest()[:-2],
    "sha256=" + "é" * 64,
    hmac.new(SECRET.encode(), RAW, hashlib.sha256).hexdigest(),
    "sha1=" + hmac.new(SECRET.encode(), RAW, hashlib.sha1).hexdigest(),
])
def test_signature_wrong_or_malformed_is_403(value):
    with pytest.raises(Rejected) as caught:
        messenger.verify(RAW, {"X-Hub-Signature-256": value}, app_secret=SECRET)
    assert (caught.value.status, caught.value.reason) == (403, "bad signature")


def test_signature_never_accepted_without_an_app_secret():
    with pytest.raises(Rejected) as caught:
        messenger.verify(RAW, {"X-Hub-Signature-256": sign(RAW, "")}, app_secret="")
    assert caught.value.status == 403


# --- parse -----------------------------------------------------------------------------------

def event(psid: str = "1001", ts: int = 1_700_000_000_000, **body) -> dict:
    return {"sender": {"id": psid}, "recipient": {"id": "PAGE"}, "timestamp": ts, **body}


def delivery(*entries: list[dict]) -> bytes:
    return json.dumps({"object": "page", "entry": [
        {"id": "PAGE", "time": 1, "messaging": events} for events in entries]}).encode()


def test_parse_every_entry_and_every_event_in_order():
    raw = delivery(
        [event(message={"mid": "m1", "text": "một"}), event(message={"mid": "m2", "text": "hai"})],
        [event("1002", message={"mid": "m3", "text": "ba"}),
         event("1002", postback={"mid": "m4", "title": "Bốn", "payload": "/bon"})],
    )
    parsed = messenger.parse(raw)
    assert [(i.event_key, i.user_id, i.kind, i.text) for i in parsed] == [
        ("m1", "1001", "text", "một"), ("m2", "1001", "text", "hai"),
        ("m3", "1002", "text", "ba"), ("m4", "1002", "payload", "/bon")]
    assert parsed[0].timestamp_ms == 1_700_000_000_000


def test_parse_skips_echoes_receipts_and_entries_without_messaging():
    body = {"object": "page", "entry": [
        {"id": "PAGE", "time": 1, "standby": [event(message={"mid": "s1", "text": "x"})]},
        {"id": "PAGE", "time": 1, "changes": [{"field": "feed", "value": {}}]},
        {"id": "PAGE", "time": 1, "messaging": [
            event("PAGE", message={"mid": "e1", "is_echo": True, "app_id": 1, "text": "echo"}),
            event("PAGE", message={"mid": "e2", "is_echo": True, "attachments": [
                {"type": "image", "payload": {"url": "https://cdn.example/own.png"}}]}),
            event(delivery={"mids": ["m0"], "watermark": 1}),
            event(read={"watermark": 1}),
            event(reaction={"reaction": "love", "mid": "m0", "action": "react"}),
            event(optin={"ref": "x"}),
            event(referral={"ref": "ad", "source": "ADS", "type": "OPEN_THREAD"}),
            event(message={"mid": "m5", "text": "còn lại"}),
        ]},
    ]}
    parsed = messenger.parse(json.dumps(body).encode())
    assert [(i.event_key, i.text) for i in parsed] == [("m5", "còn lại")]


def test_parse_quick_reply_and_postback_give_the_payload():
    raw = delivery([
        event(message={"mid": "q1", "text": "Đúng", "quick_reply": {"payload": "/affirm"}}),
        event(ts=42, postback={"title": "Bắt đầu", "payload": "/greet"}),
    ])
    quick, postback = messenger.parse(raw)
    assert (quick.kind, quick.text, quick.event_key) == ("payload", "/affirm", "q1")
    assert (postback.kind, postback.text) == ("payload", "/greet")
    assert postback.event_key == "postback:1001:42"


def test_parse_location_image_and_sticker():
    raw = delivery([
        event(message={"mid": "l1", "attachments": [
            {"type": "location", "payload": {"coordinates": {"lat": 21.03, "long": 105.85}}}]}),
        event(message={"mid": "i1", "attachments": [
            {"type": "image", "payload": {"url": "https://cdn.example/a.jpg"}},
            {"type": "image", "payload": {"url": "https://cdn.example/b.jpg"}}]}),
        event(message={"mid": "k1", "sticker_id": 369239263222822, "attachments": [
            {"type": "image", "payload": {"url": "https://cdn.example/like.png",
                                          "sticker_id": 369239263222822}}]}),
        event(message={"mid": "k2", "attachments": [
            {"type": "sticker", "payload": {"url": "https://cdn.example/s.png",
                                            "sticker_id": 1}}]}),
        event(message={"mid": "k3", "sticker_id": 1, "attachments": [
            {"type": "image", "payload": {"url": "https://cdn.example/like.png"}}]}),
        event(message={"mid": "a1", "attachments": [
            {"type": "audio", "payload": {"url": "https://cdn.example/a.mp4"}}]}),
        event(message={"mid": "f1", "attachments": [
            {"type": "fallback", "payload": None, "title": "link"}]}),
    ])
    parsed = {i.event_key: i for i in messenger.parse(raw)}
    assert parsed["l1"].kind == "location" and parsed["l1"].location == (21.03, 105.85)
    assert parsed["i1"].kind == "image"
    assert parsed["i1"].attachments == ("https://cdn.example/a.jpg", "https://cdn.example/b.jpg")
    assert {parsed[k].kind for k in ("k1", "k2", "k3", "a1", "f1")} == {"unsupported"}
    assert parsed["k1"].attachments == ()


@pytest.mark.parametrize("raw", [
    b"", b"not json", b"\xff\xfe", b"[]", b"null", b'"page"', b"[" * 100_000,
    b'{"object": "instagram", "entry": [{"messaging": [{"sender": {"id": "1"}, '
    b'"message": {"mid": "m", "text": "x"}}]}]}',
    b'{"object": "page"}', b'{"object": "page", "entry": {"messaging": []}}',
    b'{"object": "page", "entry": [null, 1, "x", {"messaging": {"a": 1}}, {"messaging": null}]}',
])
def test_parse_garbage_never_raises(raw):
    assert messenger.parse(raw) == []


def test_parse_skips_ill_typed_events_alone():
    bad = [
        "event", None, {"message": {"mid": "m", "text": "x"}},
        event(psid=1001, message={"mid": "m", "text": "x"}),
        {"sender": {"id": "1"}, "timestamp": "soon", "message": {"mid": "m", "text": "x"}},
        event(message="text"), event(message={"mid": 7, "text": "x"}),
        event(message={"mid": "x" * 201, "text": "x"}), event("9" * 201, message={"mid": "m"}),
        event(message={"mid": "m", "text": ["x"]}),
        event(message={"mid": "m", "quick_reply": "yes", "text": "x"}),
        event(message={"mid": "m", "quick_reply": {"payload": 1}}),
        event(message={"mid": "m", "attachments": "image"}),
        event(message={"mid": "m", "attachments": [None]}),
        event(message={"mid": "m", "attachments": [{"type": "image", "payload": "url"}]}),
        event(message={"mid": "m", "attachments": [
            {"type": "location", "payload": {"coordinates": {"lat": "21", "long": 105}}}]}),
        event(message={"mid": "m", "attachments": [
            {"type": "location", "payload": {"coordinates": {"lat": 91, "long": 105}}}]}),
        event(message={"mid": "m", "attachments": [
            {"type": "location", "payload": {"coordinates": {"lat": True, "long": 105}}}]}),
        event(postback="/greet"), event(postback={"payload": {"a": 1}}),
        event(postback={"mid": ["m"], "payload": "/greet"}),
        event("9" * 190, ts=1_700_000_000_000, postback={"payload": "/greet"}),
    ]
    raw = delivery(bad + [event(message={"mid": "ok", "text": "vẫn đọc"})])
    assert [i.event_key for i in messenger.parse(raw)] == ["ok"]


def test_parse_image_with_only_non_web_urls_is_unsupported():
    raw = delivery([event(message={"mid": "i", "attachments": [
        {"type": "image", "payload": {"url": "file:///etc/passwd"}}]})])
    (only,) = messenger.parse(raw)
    assert (only.kind, only.attachments) == ("unsupported", ())


# --- render ----------------------------------------------------------------------------------

def buttons(n: int, title: str = "Lựa chọn") -> list[dict]:
    return [{"title": f"{title} {i}"[:20], "payload": f"/choose{{\"n\": {i}}}"}
            for i in range(1, n + 1)]


def test_render_three_short_buttons_as_a_template():
    rendered = messenger.render([{"text": "Bạn muốn làm gì?", "buttons": buttons(3)}])
    (part,) = rendered.parts
    payload = part["attachment"]["payload"]
    assert part["attachment"]["type"] == "template"
    assert payload["template_type"] == "button" and payload["text"] == "Bạn muốn làm gì?"
    assert payload["buttons"] == [{"type": "postback", **b} for b in buttons(3)]
    assert rendered.choices == {}


@pytest.mark.parametrize("n", [4, 13])
def test_render_four_to_thirteen_buttons_as_quick_replies(n):
    (part,) = messenger.render([{"text": "Chọn lĩnh vực:", "buttons": buttons(n)}]).parts
    assert part["text"] == "Chọn lĩnh vực:"
    assert part["quick_replies"] == [{"content_type": "text", **b} for b in buttons(n)]


@pytest.mark.parametrize("choices", [
    buttons(14), [{"title": "x" * 21, "payload": "/long"}],
    [{"title": "Gửi", "payload": "/p" + "x" * 1000}],
])
def test_render_too_many_or_too_long_choices_as_numbered_text(choices):
    rendered = messenger.render([{"text": "Chọn:", "buttons": choices}])
    assert all(set(part) == {"text"} for part in rendered.parts)
    text = "\n".join(part["text"] for part in rendered.parts)
    assert text.startswith("Chọn:\n1. ") and text.endswith(NUMBERED_HINT)
    assert rendered.choices == {str(i): b["payload"] for i, b in enumerate(choices, start=1)}


def test_render_long_text_with_two_buttons_as_quick_replies():
    text = "Câu trả lời khá dài. " * 35  # 735 characters: over the template's 640
    (part,) = messenger.render([{"text": text, "buttons": buttons(2)}]).parts
    assert part["text"] == text.strip() and len(part["quick_replies"]) == 2


def test_render_long_answer_split_at_sentence_ends_with_buttons_on_the_last_part():
    sentence = "Theo quy định hiện hành, hồ sơ được nộp tại bộ phận một cửa của xã. "
    text = (sentence * 70)[:4500].rsplit(". ", 1)[0] + "."
    assert 4400 < len(text) <= 4500
    rendered = messenger.render([{"text": text, "buttons": buttons(2), "custom": {"a": 1}}])
    first, second, last = rendered.parts
    assert all(len(p["text"]) <= messenger.MAX_TEXT and p["text"].endswith(".")
               for p in (first, second))
    assert "quick_replies" not in first and "quick_replies" not in second
    template = last["attachment"]["payload"]
    assert template["text"].endswith(".") and len(template["buttons"]) == 2
    assert " ".join([first["text"], second["text"], template["text"]]) == text


def test_render_buttons_without_text_image_and_custom():
    rendered = messenger.render([
        {"buttons": buttons(2)},
        {"text": "Ảnh minh họa", "image": "https://example.org/a.png"},
        {"image": "/static/local.png"},
        {"custom": {"articles": []}},
    ])
    choose, caption, image = rendered.parts
    assert choose["attachment"]["payload"]["text"] == "Bạn chọn một trong các lựa chọn sau:"
    assert caption == {"text": "Ảnh minh họa"} and image == {"text": "https://example.org/a.png"}


# --- the Send API, against the fake Graph server ---------------------------------------------

PAGE_TOKEN = "EAAG-page-token-for-tests"
PSID = "24680135792468013"


@pytest.fixture(scope="module")
def migrated(tmp_path_factory) -> Path:
    """A database at the current schema, made once and copied for each test."""
    path = tmp_path_factory.mktemp("messenger-db") / "caunoi.db"
    migrate_and_seed(f"sqlite:///{path}")
    return path


@pytest.fixture
def database(migrated, tmp_path) -> Iterator[Database]:
    path = tmp_path / "caunoi.db"
    shutil.copy(migrated, path)
    db = Database(f"sqlite:///{path}")
    yield db
    db.dispose()


@pytest.fixture
def fake() -> Iterator[FakeMeta]:
    server = FakeMeta(app_secret=SECRET, page_token=PAGE_TOKEN).start()
    yield server
    server.stop()


def client_for(database: Database, tmp_path: Path, graph_url: str,
               **kwargs) -> messenger_api.MessengerClient:
    settings = Settings(load_search=False, data_dir=tmp_path, messenger_app_secret=SECRET,
                        messenger_verify_token=VERIFY, messenger_page_token=PAGE_TOKEN,
                        messenger_graph_url=graph_url)
    return messenger_api.MessengerClient(database, settings, **kwargs)


@pytest.fixture
def client(database, fake, tmp_path) -> messenger_api.MessengerClient:
    return client_for(database, tmp_path, fake.url, timeout=1)


def assert_private(error: SendError) -> None:
    """A reason goes to rows and logs: no token, no citizen id, no text."""
    for secret in (PAGE_TOKEN, PSID, SECRET, "Xin chào"):
        assert secret not in error.reason and secret not in str(error)


def test_send_is_accepted_with_the_proof_and_recorded(client, fake):
    assert client.health() == {"alert": None, "last_send_at": None}
    message_id = client.send(PSID, {"text": "Xin chào"})
    (sent,) = fake.sent
    assert message_id == sent["message_id"]
    assert (sent["recipient"], sent["messaging_type"], sent["message"]) == (
        PSID, "RESPONSE", {"text": "Xin chào"})
    query = parse_qs(urlsplit(fake.requests[0]["path"]).query)
    assert query["appsecret_proof"] == [
        hmac.new(SECRET.encode(), PAGE_TOKEN.encode(), hashlib.sha256).hexdigest()]
    health = client.health()
    assert health["alert"] is None and health["last_send_at"] is not None


def test_human_agent_tag_passes_a_closed_standard_window(client, fake):
    fake.close_window(PSID)
    with pytest.raises(WindowClosed) as caught:
        client.send(PSID, {"text": "Xin chào"})
    assert not caught.value.retryable
    assert caught.value.reason == "Messenger: ngoài khung 24 giờ/7 ngày của nền tảng"
    assert_private(caught.value)
    client.send(PSID, {"text": "Xin chào"}, messaging_type="MESSAGE_TAG", tag="HUMAN_AGENT")
    assert [(s["messaging_type"], s["tag"]) for s in fake.sent] == [("MESSAGE_TAG", "HUMAN_AGENT")]


def test_window_closed_even_for_human_agents(client, fake):
    fake.close_window(PSID, human_agent_too=True)
    with pytest.raises(WindowClosed):
        client.send(PSID, {"text": "Xin chào"}, messaging_type="MESSAGE_TAG", tag="HUMAN_AGENT")


@pytest.mark.parametrize("kwargs", [
    {"messaging_type": "MESSAGE_TAG", "tag": "ACCOUNT_UPDATE"},
    {"messaging_type": "MESSAGE_TAG"},
    {"messaging_type": "RESPONSE", "tag": "HUMAN_AGENT"},
    {"messaging_type": "NON_PROMOTIONAL_SUBSCRIPTION"},
])
def test_other_tags_are_a_programming_error(client, fake, kwargs):
    with pytest.raises(ValueError):
        client.send(PSID, {"text": "Xin chào"}, **kwargs)
    assert fake.requests == []


def test_revoked_token_alerts_and_a_later_success_clears_it(client, fake):
    fake.revoke_token()
    with pytest.raises(TokenInvalid) as caught:
        client.send(PSID, {"text": "Xin chào"})
    assert not caught.value.retryable
    assert_private(caught.value)
    alert = client.health()["alert"]
    assert "190" in alert and "cần cấp lại token" in alert
    fake.restore_token()
    client.send(PSID, {"text": "Xin chào"})
    assert client.health()["alert"] is None


@pytest.mark.parametrize(("mode", "retryable"), [
    ("error:2", True), ("error:4", True), ("error:613", True), ("http500", True),
    ("error:551", False), ("error:100", False),
])
def test_errors_retryable_or_not(client, fake, mode, retryable):
    fake.fail_next(1, mode)
    with pytest.raises(SendError) as caught:
        client.send(PSID, {"text": "Xin chào"})
    assert caught.value.retryable is retryable
    assert_private(caught.value)
    if mode.startswith("error:"):
        assert caught.value.reason.startswith(f"Messenger lỗi {mode[6:]}/")


def test_timeout_is_retryable(client, fake):
    fake.timeout_seconds = 3
    fake.fail_next(1, "timeout")
    started = time.monotonic()
    with pytest.raises(SendError) as caught:
        client.send(PSID, {"text": "Xin chào"})
    assert time.monotonic() - started < 2.5
    assert caught.value.retryable and "hết thời gian chờ" in caught.value.reason
    assert_private(caught.value)


def test_unreachable_graph_is_retryable(database, tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = client_for(database, tmp_path, f"http://127.0.0.1:{port}", timeout=1)
    with pytest.raises(SendError) as caught:
        client.send(PSID, {"text": "Xin chào"})
    assert caught.value.retryable
    assert_private(caught.value)


def test_every_rendered_part_is_accepted(client, fake):
    sentence = "Hồ sơ gồm đơn đề nghị và bản sao giấy tờ tùy thân. "
    rendered = messenger.render([
        {"text": "Xin chào! Bạn cần hỏi gì?", "buttons": buttons(3)},
        {"text": "Chọn lĩnh vực:", "buttons": buttons(13)},
        {"text": "Chọn thủ tục:", "buttons": buttons(14)},
        {"text": sentence * 100, "buttons": buttons(2)},
        {"text": sentence * 20, "buttons": buttons(2)},
        {"buttons": [{"title": "x" * 21, "payload": "/long"}]},
        {"text": "Ảnh", "image": "https://example.org/a.png", "custom": {"a": 1}},
        {"text": "Chọn:", "buttons": [{"title": "Có", "payload": "/p" + "x" * 1000}] * 30},
    ])
    for part in rendered.parts:
        client.send(PSID, part)
    assert fake.failed == []
    assert [s["message"] for s in fake.sent] == rendered.parts
