"""Fake Zalo OA and Meta Graph API servers, and the signed webhook events the real ones send.

Each fake is a real HTTP server on 127.0.0.1 that checks a send the way the platform does
(REFERENCE.md §1.5-1.7 and §3.3-3.5, with CORRECTIONS.md): Zalo answers errors with HTTP 200
and a negative ``error``, Graph with HTTP 400 and ``{"error": {...}}``. A fake can be told to
fail (``fail_next``, ``close_window``, ``expire_token``/``revoke_token``) and keeps what it
received (``requests``), what it accepted (``sent``) and what it refused (``failed``), so a test
can assert what a citizen would have seen. Error codes the references do not give (a refresh
with a wrong app id or secret: -14001) are the fake's own.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import threading
import time
from dataclasses import dataclass
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

ERROR_MODE = re.compile(r"error:(-?\d+)")
ZALO_OA_ID = "388613280878808645"
PAGE_ID = "104532291234567"  # the Facebook Page our fake Messenger events are sent to
ZALO_BUTTON_TYPES = ("oa.query.hide", "oa.query.show", "oa.open.url")
MESSAGING_TYPES = ("RESPONSE", "UPDATE", "MESSAGE_TAG")
SENDER_ACTIONS = ("typing_on", "typing_off", "mark_seen")
NOTIFICATION_TYPES = ("REGULAR", "SILENT_PUSH", "NO_PUSH")
WINDOW_SUBCODE = 2018278  # Graph: "sent outside of allowed window" (code 10)


# --- signing and webhook events --------------------------------------------------------------

def zalo_signature(app_id: str, raw: bytes, timestamp: str, oa_secret: str) -> str:
    """``X-ZEvent-Signature``: plain SHA-256 (not an HMAC) of app id, raw body, timestamp and
    the OA secret key, concatenated."""
    digest = hashlib.sha256(app_id.encode() + raw + timestamp.encode() + oa_secret.encode())
    return "mac=" + digest.hexdigest()


def zalo_headers(raw: bytes, *, app_id: str, oa_secret: str, timestamp_ms: str | None = None,
                 header_timestamp: bool = True) -> dict[str, str]:
    """The headers Zalo sends with ``raw``. The signed timestamp is ``timestamp_ms`` when given,
    else the body's ``timestamp``; it is also sent as ``X-ZEvent-Timestamp`` unless
    ``header_timestamp`` is false (a ``timestamp_ms`` that differs from the body's then makes a
    signature that only a header-trusting check would accept: a test of a wrong signature)."""
    timestamp = str(timestamp_ms) if timestamp_ms is not None else str(
        json.loads(raw).get("timestamp", ""))
    headers = {"Content-Type": "application/json",
               "X-ZEvent-Signature": zalo_signature(app_id, raw, timestamp, oa_secret)}
    if header_timestamp:
        headers["X-ZEvent-Timestamp"] = timestamp
    return headers


def _now_ms() -> int:
    return int(time.time() * 1000)


def _user_id_by_app(user_id: str) -> str:
    """A stable app-scoped id for an OA-scoped one (Zalo sends both)."""
    return str(int(hashlib.sha256(user_id.encode()).hexdigest()[:15], 16))


def zalo_event(*, app_id: str, user_id: str, text: str | None = None, msg_id: str | None = None,
               timestamp_ms: int | None = None, event_name: str | None = None,
               attachments: list | None = None, oa_id: str = ZALO_OA_ID) -> bytes:
    """The raw body of a citizen's message to the OA (REFERENCE §1.4): ids and the timestamp
    are strings, non-ASCII is sent as UTF-8. ``user_send_text`` unless told otherwise."""
    message: dict[str, Any] = {"msg_id": msg_id or secrets.token_hex(10)}
    if text is not None:
        message["text"] = text
    if attachments is not None:
        message["attachments"] = attachments
    event = {"app_id": app_id, "user_id_by_app": _user_id_by_app(user_id),
             "event_name": event_name or "user_send_text",
             "timestamp": str(timestamp_ms if timestamp_ms is not None else _now_ms()),
             "sender": {"id": user_id}, "recipient": {"id": oa_id}, "message": message}
    return json.dumps(event, ensure_ascii=False).encode()


def zalo_location_event(*, app_id: str, user_id: str, latitude: float | str = "22.48",
                        longitude: float | str = "103.97", **kwargs: Any) -> bytes:
    """``user_send_location`` with the coordinates as strings (the Chatwoot-fork shape)."""
    coordinates = {"latitude": str(latitude), "longitude": str(longitude)}
    return zalo_event(app_id=app_id, user_id=user_id, event_name="user_send_location",
                      attachments=[{"type": "location", "payload": {"coordinates": coordinates}}],
                      **kwargs)


def zalo_image_event(*, app_id: str, user_id: str, url: str, text: str | None = None,
                     **kwargs: Any) -> bytes:
    """``user_send_image``: a photo (``text`` is an optional caption)."""
    return zalo_event(app_id=app_id, user_id=user_id, text=text, event_name="user_send_image",
                      attachments=[{"type": "image", "payload": {"url": url, "thumbnail": url}}],
                      **kwargs)


def zalo_follow_event(*, app_id: str, user_id: str, timestamp_ms: int | None = None,
                      event_name: str = "follow", oa_id: str = ZALO_OA_ID) -> bytes:
    """``follow`` (or ``unfollow``): a ``follower`` instead of a sender, and no message id."""
    event = {"app_id": app_id, "oa_id": oa_id, "follower": {"id": user_id},
             "user_id_by_app": _user_id_by_app(user_id), "event_name": event_name,
             "source": "oa_profile",
             "timestamp": str(timestamp_ms if timestamp_ms is not None else _now_ms())}
    return json.dumps(event, ensure_ascii=False).encode()


def zalo_echo_event(*, app_id: str, user_id: str, text: str, msg_id: str | None = None,
                    timestamp_ms: int | None = None, oa_id: str = ZALO_OA_ID,
                    admin_id: str | None = None) -> bytes:
    """``oa_send_text``: the OA's own message (ours, or an admin's when ``admin_id``)."""
    sender = {"id": oa_id, **({"admin_id": admin_id} if admin_id else {})}
    event = {"app_id": app_id, "user_id_by_app": _user_id_by_app(user_id),
             "event_name": "oa_send_text",
             "timestamp": str(timestamp_ms if timestamp_ms is not None else _now_ms()),
             "sender": sender, "recipient": {"id": user_id},
             "message": {"msg_id": msg_id or secrets.token_hex(10), "text": text}}
    return json.dumps(event, ensure_ascii=False).encode()


def messenger_signature(app_secret: str, raw: bytes) -> str:
    """``X-Hub-Signature-256``: HMAC-SHA256 of the raw body with the app secret."""
    return "sha256=" + hmac.new(app_secret.encode(), raw, hashlib.sha256).hexdigest()


def messenger_headers(raw: bytes, app_secret: str) -> dict[str, str]:
    return {"Content-Type": "application/json",
            "X-Hub-Signature-256": messenger_signature(app_secret, raw)}


def messenger_batch(entries: list[list[dict]], *, page_id: str = PAGE_ID) -> bytes:
    """One delivery: an ``entry`` per list of events, non-ASCII escaped as Meta does."""
    body = {"object": "page",
            "entry": [{"id": page_id, "time": _now_ms(), "messaging": events}
                      for events in entries]}
    return json.dumps(body, ensure_ascii=True, separators=(",", ":")).encode()


def _mid() -> str:
    return "m_" + secrets.token_urlsafe(24)


def _from_user(psid: str, ts: int | None, page_id: str, **event: Any) -> dict:
    return {"sender": {"id": psid}, "recipient": {"id": page_id},
            "timestamp": ts if ts is not None else _now_ms(), **event}


def messenger_text(psid: str, text: str, mid: str | None = None, ts: int | None = None, *,
                   page_id: str = PAGE_ID) -> dict:
    return _from_user(psid, ts, page_id, message={"mid": mid or _mid(), "text": text})


def messenger_quick_reply(psid: str, title: str, payload: str, mid: str | None = None,
                          ts: int | None = None, *, page_id: str = PAGE_ID) -> dict:
    """A tapped quick reply: the title as text, the payload beside it."""
    return _from_user(psid, ts, page_id, message={"mid": mid or _mid(), "text": title,
                                                  "quick_reply": {"payload": payload}})


def messenger_postback(psid: str, title: str, payload: str, mid: str | None = None,
                       ts: int | None = None, *, page_id: str = PAGE_ID) -> dict:
    """A tapped template button."""
    return _from_user(psid, ts, page_id,
                      postback={"mid": mid or _mid(), "title": title, "payload": payload})


def messenger_location(psid: str, lat: float, long: float, mid: str | None = None,
                       ts: int | None = None, *, page_id: str = PAGE_ID) -> dict:
    attachment = {"type": "location", "payload": {"coordinates": {"lat": lat, "long": long}}}
    return _from_user(psid, ts, page_id,
                      message={"mid": mid or _mid(), "attachments": [attachment]})


def messenger_image(psid: str, url: str, mid: str | None = None, ts: int | None = None, *,
                    page_id: str = PAGE_ID) -> dict:
    attachment = {"type": "image", "payload": {"url": url}}
    return _from_user(psid, ts, page_id,
                      message={"mid": mid or _mid(), "attachments": [attachment]})


def messenger_echo(psid: str, text: str, mid: str | None = None, ts: int | None = None, *,
                   page_id: str = PAGE_ID, app_id: str = "1234567890") -> dict:
    """The Page's own message coming back: the sender is the Page."""
    return {"sender": {"id": page_id}, "recipient": {"id": psid},
            "timestamp": ts if ts is not None else _now_ms(),
            "message": {"is_echo": True, "app_id": app_id, "mid": mid or _mid(), "text": text}}


def messenger_delivery(psid: str, mids: list[str] | None = None, watermark: int | None = None,
                       *, page_id: str = PAGE_ID) -> dict:
    watermark = watermark if watermark is not None else _now_ms()
    return _from_user(psid, watermark, page_id,
                      delivery={"mids": mids or [], "watermark": watermark})


def messenger_read(psid: str, watermark: int | None = None, *, page_id: str = PAGE_ID) -> dict:
    watermark = watermark if watermark is not None else _now_ms()
    return _from_user(psid, watermark, page_id, read={"watermark": watermark})


# --- what a platform accepts ----------------------------------------------------------------

class Invalid(Exception):
    """A field the platform refuses (its name goes into the platform's error message)."""


def _obj(value: Any, field: str, required: tuple = (), optional: tuple = ()) -> dict:
    if not isinstance(value, dict) or not set(required) <= value.keys() <= {*required,
                                                                             *optional}:
        raise Invalid(field)
    return value


def _str(value: Any, field: str, limit: int) -> str:
    """A string of 1..limit characters that is not only blanks."""
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        raise Invalid(field)
    return value


def _list(value: Any, field: str, most: int) -> list:
    if not isinstance(value, list) or not 1 <= len(value) <= most:
        raise Invalid(field)
    return value


def _web_url(value: Any, field: str) -> None:
    parts = urlsplit(_str(value, field, 2000))
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise Invalid(field)


def _media_type(headers: Message) -> str:
    return (headers.get("Content-Type") or "").split(";")[0].strip().lower()


def _json_object(raw: bytes) -> dict | None:
    try:
        body = json.loads(raw)
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def check_zalo_message(headers: Message, body: dict | None) -> None:
    """A consultation message as ``/v3.0/oa/message/cs`` accepts it: text (≤ 2000) and/or a
    template of 1..4 buttons (our limit; Zalo's own is unconfirmed), buttons only with text."""
    if _media_type(headers) != "application/json":
        raise Invalid("Content-Type")
    body = _obj(body, "body", ("recipient", "message"))
    _str(_obj(body["recipient"], "recipient", ("user_id",))["user_id"], "recipient.user_id", 200)
    message = _obj(body["message"], "message", (), ("text", "attachment"))
    _str(message.get("text"), "message.text", 2000)  # buttons need text too
    if "attachment" not in message:
        return
    attachment = _obj(message["attachment"], "message.attachment", ("type", "payload"))
    if attachment["type"] != "template":
        raise Invalid("message.attachment.type")
    payload = _obj(attachment["payload"], "message.attachment.payload", ("buttons",))
    buttons = _list(payload["buttons"], "message.attachment.payload.buttons", 4)
    for n, button in enumerate(buttons):
        field = f"message.attachment.payload.buttons[{n}]"
        _obj(button, field, ("title", "type", "payload"))
        _str(button["title"], field + ".title", 35)
        if button["type"] == "oa.open.url":
            _web_url(_obj(button["payload"], field + ".payload", ("url",))["url"],
                     field + ".payload.url")
        elif button["type"] in ZALO_BUTTON_TYPES:
            _str(button["payload"], field + ".payload", 1000)
        else:
            raise Invalid(field + ".type")


def check_graph_message(headers: Message, body: dict | None) -> None:
    """A Send API call as Graph v25.0 accepts it (REFERENCE §3.3, CORRECTIONS C6)."""
    if _media_type(headers) != "application/json":
        raise Invalid("Content-Type")
    if isinstance(body, dict) and "sender_action" in body:
        body = _obj(body, "body", ("recipient", "sender_action"))
        _str(_obj(body["recipient"], "recipient", ("id",))["id"], "recipient[id]", 200)
        if body["sender_action"] not in SENDER_ACTIONS:
            raise Invalid("sender_action")
        return
    body = _obj(body, "body", ("recipient", "messaging_type", "message"),
                ("tag", "notification_type"))
    _str(_obj(body["recipient"], "recipient", ("id",))["id"], "recipient[id]", 200)
    if body["messaging_type"] not in MESSAGING_TYPES:
        raise Invalid("messaging_type")
    if (body["messaging_type"] == "MESSAGE_TAG") != ("tag" in body):
        raise Invalid("tag")
    if body.get("tag", "HUMAN_AGENT") != "HUMAN_AGENT":  # the others retired on 2026-04-27
        raise Invalid("tag")
    if body.get("notification_type", "REGULAR") not in NOTIFICATION_TYPES:
        raise Invalid("notification_type")
    message = body["message"]
    if isinstance(message, dict) and "attachment" in message:
        _check_button_template(_obj(message, "message", ("attachment",))["attachment"])
        return
    message = _obj(message, "message", ("text",), ("quick_replies",))
    _str(message["text"], "message[text]", 2000)
    if "quick_replies" in message:
        replies = _list(message["quick_replies"], "message[quick_replies]", 13)
        for n, reply in enumerate(replies):
            _check_quick_reply(reply, f"message[quick_replies][{n}]")


def _check_quick_reply(reply: Any, field: str) -> None:
    if isinstance(reply, dict) and reply.get("content_type") in ("user_phone_number",
                                                                 "user_email"):
        _obj(reply, field, ("content_type",), ("image_url",))
        return
    reply = _obj(reply, field, ("content_type", "title", "payload"), ("image_url",))
    if reply["content_type"] != "text":
        raise Invalid(field + "[content_type]")
    _str(reply["title"], field + "[title]", 20)
    _str(reply["payload"], field + "[payload]", 1000)


def _check_button_template(attachment: Any) -> None:
    attachment = _obj(attachment, "message[attachment]", ("type", "payload"))
    if attachment["type"] != "template":
        raise Invalid("message[attachment][type]")
    payload = _obj(attachment["payload"], "message[attachment][payload]",
                   ("template_type", "text", "buttons"))
    if payload["template_type"] != "button":
        raise Invalid("message[attachment][payload][template_type]")
    _str(payload["text"], "message[attachment][payload][text]", 640)
    buttons = _list(payload["buttons"], "message[attachment][payload][buttons]", 3)
    for n, button in enumerate(buttons):
        field = f"message[attachment][payload][buttons][{n}]"
        kind = button.get("type") if isinstance(button, dict) else None
        if kind == "postback":
            _obj(button, field, ("type", "title", "payload"))
            _str(button["payload"], field + "[payload]", 1000)
        elif kind == "web_url":
            _obj(button, field, ("type", "url", "title"))
            _web_url(button["url"], field + "[url]")
        else:
            raise Invalid(field + "[type]")
        _str(button["title"], field + "[title]", 20)


# --- the servers ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes
    content_type: str = "application/json"


def json_reply(status: int, payload: dict) -> Reply:
    return Reply(status, json.dumps(payload, ensure_ascii=False).encode())


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # a benchmark's burst must not overflow the listen backlog

    def __init__(self, address: tuple[str, int], fake: FakePlatform) -> None:
        super().__init__(address, _Handler)
        self.fake = fake


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:  # noqa: N802 - http.server's hook name
        self._answer("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._answer("POST")

    def _answer(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length > 0 else b""
        reply = self.server.fake.receive(method, self.path, self.headers, raw)
        try:
            self.send_response(reply.status)
            self.send_header("Content-Type", reply.content_type)
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            self.wfile.write(reply.body)
        except OSError:  # the client gave up waiting (a timeout test)
            pass

    def log_message(self, *args: Any) -> None:
        pass


class FakePlatform:
    """What both fakes share: the server thread, the records, injected failures, windows."""

    name = ""
    recipient_key = ""  # the key of ``sent`` entries naming the citizen
    errors: dict[int, str] = {}  # the platform's text for an error code

    def __init__(self, port: int = 0) -> None:
        self.port = port
        self.timeout_seconds = 15.0  # how long a "timeout" failure holds the request
        self.requests: list[dict] = []  # every request: method, path, headers, body, at
        self.sent: list[dict] = []  # accepted messages
        self.failed: list[dict] = []  # refused or failed sends: reason, detail, ..., at
        self._failures: list[str] = []
        self._closed: dict[str, bool] = {}  # citizen -> the window is closed even for tags
        self._lock = threading.Condition()
        self._stopping = threading.Event()
        self._server: _Server | None = None

    # lifecycle

    @property
    def url(self) -> str:
        if not self.port:
            raise RuntimeError(f"fake {self.name} is not started")
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Self:
        """Serve on 127.0.0.1 (the port it had before when restarted)."""
        self._stopping.clear()
        self._server = _Server(("127.0.0.1", self.port), self)
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, args=(0.05,),  # a quick stop()
                         name=f"fake-{self.name}", daemon=True).start()
        return self

    def stop(self) -> None:
        """Stop serving; a request held by a "timeout" failure is answered (500) at once."""
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # what a test tells the fake

    def fail_next(self, n: int, mode: str) -> None:
        """Make the next ``n`` sends fail: "http500", "timeout" (held ``timeout_seconds``, then
        500) or "error:<code>" (the platform's error body with that code)."""
        if n < 0 or not (mode in ("http500", "timeout") or ERROR_MODE.fullmatch(mode)):
            raise ValueError(f"bad failure: {n} x {mode!r}")
        with self._lock:
            self._failures.extend([mode] * n)

    def close_window(self, user_id: str, *, human_agent_too: bool = False) -> None:
        """The citizen has not written for too long: sends to them are refused."""
        with self._lock:
            self._closed[user_id] = human_agent_too

    def open_window(self, user_id: str) -> None:
        """The citizen wrote again."""
        with self._lock:
            self._closed.pop(user_id, None)

    def reset(self) -> None:
        """Forget what was received and every injected failure or closed window; the tokens
        stay as they are."""
        with self._lock:
            for records in (self.requests, self.sent, self.failed, self._failures):
                records.clear()
            self._closed.clear()

    # what a test reads

    def wait_sent(self, count: int, timeout: float = 10) -> list[dict]:
        """A copy of ``sent`` once it holds ``count`` messages; AssertionError (saying what
        was refused) when it does not within ``timeout`` seconds."""
        with self._lock:
            if not self._lock.wait_for(lambda: len(self.sent) >= count, timeout):
                refused = [(f["reason"], f["detail"]) for f in self.failed]
                raise AssertionError(f"fake {self.name}: {len(self.sent)} of {count} messages "
                                     f"sent in {timeout} s; failed: {refused}")
            return list(self.sent)

    def sent_to(self, user_id: str) -> list[dict]:
        with self._lock:
            return [entry for entry in self.sent if entry[self.recipient_key] == user_id]

    def texts_to(self, user_id: str) -> list[str]:
        texts = (self.text_of(entry["message"]) for entry in self.sent_to(user_id))
        return [text for text in texts if text is not None]

    def text_of(self, message: dict) -> str | None:
        raise NotImplementedError

    def buttons_of(self, message: dict) -> list[dict]:
        """The choices shown with a message: ``{"title", "payload"}`` (a link's url as the
        payload)."""
        raise NotImplementedError

    # serving

    def receive(self, method: str, path: str, headers: Message, raw: bytes) -> Reply:
        with self._lock:
            self.requests.append({"method": method, "path": path, "headers": dict(headers),
                                  "body": raw, "at": time.time()})
        return self.route(method, path, headers, raw)

    def route(self, method: str, path: str, headers: Message, raw: bytes) -> Reply:
        raise NotImplementedError

    def error_reply(self, code: int, detail: str) -> Reply:
        raise NotImplementedError

    def _next_failure(self) -> str | None:
        with self._lock:
            return self._failures.pop(0) if self._failures else None

    def _injected(self, mode: str) -> Reply:
        if mode == "timeout":
            self._stopping.wait(self.timeout_seconds)
            return Reply(500, b"Gateway Timeout", "text/plain")
        if mode == "http500":
            return Reply(500, b"Internal Server Error", "text/plain")
        code = int(mode.split(":")[1])
        return self.error_reply(code, self.errors.get(code, "Injected failure"))

    def _failed(self, reason: str, detail: str, record: dict) -> None:
        with self._lock:
            self.failed.append({"reason": reason, "detail": detail, **record,
                                "at": time.time()})

    def _window_closed(self, user_id: str, *, human_agent: bool = False) -> bool:
        with self._lock:
            return user_id in self._closed and (not human_agent or self._closed[user_id])

    def _accepted(self, entry: dict) -> None:
        with self._lock:
            self.sent.append({**entry, "at": time.time()})
            self._lock.notify_all()


class FakeZalo(FakePlatform):
    """Zalo's OpenAPI (``/v3.0/oa/message/cs``) and OAuth host (``/v4/oa/access_token``) on
    one port. Errors come with HTTP 200 and a negative ``error``, as Zalo's do."""

    name = "Zalo"
    recipient_key = "user_id"
    errors = {-32: "Request limit exceeded", -201: "Parameters are invalid",
              -216: "Access token is invalid", -220: "Access token has expired or been removed",
              -230: "User has not interacted with the OA in the past 7 days",
              -232: "User interaction has expired"}

    def __init__(self, *, app_id: str, app_secret: str, access_token: str, refresh_token: str,
                 expires_in: int = 90000, port: int = 0) -> None:
        super().__init__(port)
        self.app_id, self.app_secret, self.expires_in = app_id, app_secret, expires_in
        self._access, self._refresh, self._expired = access_token, refresh_token, False
        self.refreshes: list[dict] = []
        self.reused_refresh_tokens = 0

    @property
    def access_token(self) -> str:
        with self._lock:
            return self._access

    @property
    def refresh_token(self) -> str:
        with self._lock:
            return self._refresh

    def expire_token(self) -> None:
        """The current access token is refused (-216) until the next refresh."""
        with self._lock:
            self._expired = True

    def reset(self) -> None:
        super().reset()
        with self._lock:
            self.refreshes.clear()
            self.reused_refresh_tokens = 0

    def text_of(self, message: dict) -> str | None:
        return message.get("text")

    def buttons_of(self, message: dict) -> list[dict]:
        buttons = message.get("attachment", {}).get("payload", {}).get("buttons", [])
        return [{"title": b["title"], "payload": b["payload"]["url"] if isinstance(
            b["payload"], dict) else b["payload"]} for b in buttons]

    def error_reply(self, code: int, detail: str) -> Reply:
        return json_reply(200, {"error": code, "message": detail})

    def route(self, method: str, path: str, headers: Message, raw: bytes) -> Reply:
        endpoint = (method, urlsplit(path).path)
        if endpoint == ("POST", "/v3.0/oa/message/cs"):
            return self._send(headers, raw)
        if endpoint == ("POST", "/v4/oa/access_token"):
            return self._refresh_tokens(headers, raw)
        return Reply(404, b"Not Found", "text/plain")

    def _send(self, headers: Message, raw: bytes) -> Reply:
        body = _json_object(raw)
        recipient = body.get("recipient") if body else None
        user_id = recipient.get("user_id") if isinstance(recipient, dict) else None
        record = {"user_id": user_id, "message": body.get("message") if body else None,
                  "access_token": headers.get("access_token")}

        def refuse(code: int, detail: str) -> Reply:
            self._failed(f"error:{code}", detail, record)
            return self.error_reply(code, detail)

        mode = self._next_failure()
        if mode:
            self._failed(mode, "injected", record)
            return self._injected(mode)
        with self._lock:
            token_ok = not self._expired and record["access_token"] == self._access
        if not token_ok:
            return refuse(-216, self.errors[-216])
        try:
            check_zalo_message(headers, body)
        except Invalid as err:
            return refuse(-201, f"{err} is invalid!")
        if self._window_closed(user_id):
            return refuse(-230, self.errors[-230])
        message_id = secrets.token_hex(10)
        self._accepted({**record, "message_id": message_id})
        return json_reply(200, {"error": 0, "message": "Success",
                                "data": {"message_id": message_id, "user_id": user_id,
                                         "sent_time": str(_now_ms())}})

    def _refresh_tokens(self, headers: Message, raw: bytes) -> Reply:
        """A single-use refresh token buys a new pair; reusing one is -14014."""
        form = parse_qs(raw.decode("utf-8", "replace"), keep_blank_values=True)
        fields = {key: values[0] for key, values in form.items() if len(values) == 1}
        wrong = ("Content-Type" if _media_type(headers) != "application/x-www-form-urlencoded"
                 else "secret_key" if headers.get("secret_key") != self.app_secret
                 else "app_id" if fields.get("app_id") != self.app_id
                 else "grant_type" if fields.get("grant_type") != "refresh_token"
                 else "refresh_token" if not fields.get("refresh_token") else None)
        if wrong:
            return json_reply(200, {"error": -14001, "error_name": "Invalid parameter",
                                    "error_description": f"{wrong} is invalid"})
        with self._lock:
            if fields["refresh_token"] != self._refresh:
                self.reused_refresh_tokens += 1
                return json_reply(200, {
                    "error": -14014, "error_name": "Invalid refresh token",
                    "error_description": "Refresh token is invalid or expired"})
            old_access, old_refresh = self._access, self._refresh
            self._access, self._refresh = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
            self._expired = False
            self.refreshes.append({
                "old_access_token": old_access, "old_refresh_token": old_refresh,
                "access_token": self._access, "refresh_token": self._refresh, "at": time.time()})
            return json_reply(200, {"access_token": self._access, "refresh_token": self._refresh,
                                    "expires_in": str(self.expires_in)})


class FakeMeta(FakePlatform):
    """Graph's Send API (``POST /{version}/me/messages``). Errors come with HTTP 400 and
    ``{"error": {"message", "type", "code", "fbtrace_id"}}``. Typing indicators
    (``sender_action``) are accepted and kept in ``actions``."""

    name = "Messenger"
    recipient_key = "recipient"
    errors = {2: "An unexpected error has occurred. Please retry your request later.",
              4: "(#4) Application request limit reached",
              10: "(#10) This message is sent outside of allowed window.",
              190: "Invalid OAuth access token.",
              551: "This person isn't available right now.",
              613: "(#613) Calls to this api have exceeded the rate limit."}

    def __init__(self, *, app_secret: str, page_token: str, version: str = "v25.0",
                 port: int = 0) -> None:
        super().__init__(port)
        self.app_secret, self.page_token, self.version = app_secret, page_token, version
        self.actions: list[dict] = []
        self._revoked = False

    def revoke_token(self) -> None:
        """The page token dies (a password change, a revoked permission): every send is 190."""
        with self._lock:
            self._revoked = True

    def restore_token(self) -> None:
        with self._lock:
            self._revoked = False

    def reset(self) -> None:
        super().reset()
        with self._lock:
            self.actions.clear()
            self._revoked = False

    def text_of(self, message: dict) -> str | None:
        if "text" in message:
            return message["text"]
        return message.get("attachment", {}).get("payload", {}).get("text")

    def buttons_of(self, message: dict) -> list[dict]:
        choices = (message.get("quick_replies")
                   or message.get("attachment", {}).get("payload", {}).get("buttons", []))
        return [{"title": c.get("title", ""), "payload": c.get("payload", c.get("url", ""))}
                for c in choices]

    def error_reply(self, code: int, detail: str, subcode: int | None = None) -> Reply:
        error: dict[str, Any] = {"message": detail, "type": "OAuthException", "code": code}
        if code == 10 and subcode is None:
            subcode = WINDOW_SUBCODE  # an injected "error:10" is the window's
        if subcode is not None:
            error["error_subcode"] = subcode
        error["fbtrace_id"] = "A" + secrets.token_urlsafe(15)
        return json_reply(400, {"error": error})

    def route(self, method: str, path: str, headers: Message, raw: bytes) -> Reply:
        url = urlsplit(path)
        if (method, url.path) != ("POST", f"/{self.version}/me/messages"):
            return self.error_reply(2500, "Unknown path components")
        query = {key: values[0] for key, values in parse_qs(url.query).items()}
        return self._send(query, headers, raw)

    def _send(self, query: dict[str, str], headers: Message, raw: bytes) -> Reply:
        body = _json_object(raw)
        recipient = body.get("recipient") if body else None
        psid = recipient.get("id") if isinstance(recipient, dict) else None
        record = {"recipient": psid, "messaging_type": body.get("messaging_type") if body
                  else None, "tag": body.get("tag") if body else None,
                  "message": body.get("message") if body else None}

        def refuse(code: int, detail: str, subcode: int | None = None) -> Reply:
            self._failed(f"error:{code}", detail, record)
            return self.error_reply(code, detail, subcode)

        mode = self._next_failure()
        if mode:
            self._failed(mode, "injected", record)
            return self._injected(mode)
        with self._lock:
            revoked = self._revoked
        if revoked:
            return refuse(190, "Error validating access token: The session has been "
                          "invalidated because the user changed their password or Facebook "
                          "has changed the session for security reasons.", 460)
        if query.get("access_token") != self.page_token:
            return refuse(190, self.errors[190])
        proof = hmac.new(self.app_secret.encode(), self.page_token.encode(),
                         hashlib.sha256).hexdigest()
        if query.get("appsecret_proof") != proof:
            return refuse(100, "Invalid appsecret_proof provided in the API argument")
        try:
            check_graph_message(headers, body)
        except Invalid as err:
            return refuse(100, f"(#100) Invalid parameter: {err}")
        human_agent = body.get("tag") == "HUMAN_AGENT"
        if self._window_closed(psid, human_agent=human_agent):
            return refuse(10, self.errors[10], WINDOW_SUBCODE)
        if "sender_action" in body:
            with self._lock:
                self.actions.append({"recipient": psid, "sender_action": body["sender_action"],
                                     "at": time.time()})
            return json_reply(200, {"recipient_id": psid})
        message_id = _mid()
        self._accepted({**record, "message_id": message_id})
        return json_reply(200, {"recipient_id": psid, "message_id": message_id})
