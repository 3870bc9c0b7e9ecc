"""Rate limits on every public endpoint, per client and per sender, and the daily cap on filed
items (defect 7). Real servers on loopback with tight limits set here.

Every test speaks for its own client address through ``X-Forwarded-For``: uvicorn believes it
from 127.0.0.1 (its default ``--forwarded-allow-ips``, as behind a reverse proxy on the same
machine), so each test has its own budget and no test spends another's.
"""

from __future__ import annotations

import http.cookiejar
import json
import re
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from itertools import count

import pytest

from tests.chat.fake_rasa import FakeRasa
from tests.feedback_api.server import Api, api_with_tokens, cli, service_env

TIGHT = {
    "CAUNOI_RATE_LIMIT_CHAT": "6/minute",
    "CAUNOI_RATE_LIMIT_CHAT_SENDER": "3/minute",
    "CAUNOI_RATE_LIMIT_SEARCH": "3/minute",
    "CAUNOI_RATE_LIMIT_STATUS": "3/minute",
    "CAUNOI_RATE_LIMIT_ARTICLES": "3/minute",
    "CAUNOI_RATE_LIMIT_OPEN311": "5/minute",
    "CAUNOI_RATE_LIMIT_SUBMISSIONS": "10/minute",
    "CAUNOI_RATE_LIMIT_VOTES": "3/minute",
    "CAUNOI_SUBMISSIONS_PER_DAY": "3",
    "CAUNOI_OPEN311_SUBMISSIONS_PER_DAY": "2",
}
SHORT_WAIT = re.compile(r"^Bạn gửi quá nhiều yêu cầu\. Vui lòng thử lại sau (\d+) giây\.$")
ANY_WAIT = re.compile(r"^Bạn gửi quá nhiều yêu cầu\. Vui lòng thử lại sau \d+ (giây|phút|giờ)\.$")
_addresses = count(1)


def address() -> str:
    """A client address of its own (TEST-NET-3, and a random part across runs on Redis)."""
    return f"203.0.{uuid.uuid4().int % 200}.{next(_addresses)}"


@pytest.fixture(scope="module")
def rasa():
    fake = FakeRasa().start()
    yield fake
    fake.stop()


@pytest.fixture(scope="module")
def api(db_url, database, model_dir, smtp, rasa):
    env = service_env(db_url, model_dir, smtp.port, CAUNOI_RUN_WORKER="0",
                      CAUNOI_RASA_URL=rasa.url, **TIGHT)
    server = api_with_tokens(env, f"limits-{uuid.uuid4().hex[:6]}", "service", "triage")
    yield server
    server.stop()


def call(api, method: str, path: str, *, client: str, body=None, form: dict | None = None,
         token: str | None = None, cookies: http.cookiejar.CookieJar | None = None,
         accept: str = "application/json"):
    """Status, headers and decoded body of one request from ``client``."""
    data, ctype = None, None
    if body is not None:
        data, ctype = json.dumps(body).encode(), "application/json"
    elif form is not None:
        data, ctype = urllib.parse.urlencode(form).encode(), "application/x-www-form-urlencoded"
    req = urllib.request.Request(api.base + path, data=data, method=method)
    req.add_header("X-Forwarded-For", client)
    req.add_header("Accept", accept)
    if ctype:
        req.add_header("Content-Type", ctype)
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(cookies)
                                         if cookies is not None else urllib.request.BaseHandler())
    try:
        with opener.open(req, timeout=60) as resp:
            status, headers, payload = resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as err:
        status, headers, payload = err.code, err.headers, err.read()
    try:
        decoded = json.loads(payload or b"null")
    except json.JSONDecodeError:
        decoded = payload.decode(errors="replace")
    return status, headers, decoded


def assert_limited(status, headers, body, *, shape: str = "json", short: bool = True) -> int:
    """A 429 with Retry-After and the Vietnamese sentence; returns the announced wait."""
    assert status == 429, (status, body)
    wait = int(headers["Retry-After"])
    assert wait >= 1
    if shape == "open311":
        assert isinstance(body, list) and body[0]["code"] == 429, body
        message = body[0]["description"]
    elif shape == "html":
        assert headers.get_content_type() == "text/html", headers
        message = re.search(r"<p>(.*)</p>", body).group(1)
    else:
        message = body["detail"]
    assert ANY_WAIT.match(message), message
    if short:
        assert wait <= 60
        assert SHORT_WAIT.match(message).group(1) == str(wait), message
    return wait


def spend(api, method: str, path: str, allowed: int, **kwargs):
    """``allowed`` requests that are not refused, then the answer to one more."""
    for i in range(allowed):
        status, _, body = call(api, method, path, **kwargs)
        assert status != 429, (path, i, body)
    return call(api, method, path, **kwargs)


def test_status_lookups(api):
    client = address()
    assert_limited(*spend(api, "GET", "/api/v1/status/PA-NOSUCH12", 3, client=client))
    # Another client still gets its answers.
    assert call(api, "GET", "/api/v1/status/PA-NOSUCH12", client=address())[0] == 404


def test_a_burst_of_status_lookups_is_stopped(api):
    client = address()
    answers = [call(api, "GET", f"/api/v1/status/PA-{i:08d}", client=client)[0]
               for i in range(60)]
    assert answers.count(404) == 3 and answers.count(429) == 57


def test_open311_lookups_by_code_share_the_status_budget(api):
    client = address()
    for _ in range(2):
        assert call(api, "GET", "/api/v1/status/PA-NOSUCH12", client=client)[0] == 404
    assert call(api, "GET", "/open311/v2/requests/PA-NOSUCH12.json", client=client)[0] == 404
    assert_limited(*call(api, "GET", "/open311/v2/requests.json?service_request_id=PA-NOSUCH12",
                         client=client), shape="open311")


def test_search(api):
    assert_limited(*spend(api, "GET", "/api/v1/search?q=thu%20tuc%20cu%20tru", 3,
                          client=address()))


def test_authenticated_callers_are_not_counted_per_address(api):
    """The action server asks for every citizen from one address, with its token."""
    client = address()
    for path in ("/api/v1/status/PA-NOSUCH12", "/api/v1/search?q=cu%20tru",
                 "/api/v1/articles/Luat/1"):
        for _ in range(6):
            status, _, body = call(api, "GET", path, client=client, token=api.tokens["service"])
            assert status != 429, (path, body)
    # A wrong token is no exemption.
    assert_limited(*spend(api, "GET", "/api/v1/status/PA-NOSUCH12", 3, client=client,
                          token="not-a-token"))


def test_article_json_and_pages_share_one_budget(api):
    client = address()
    for _ in range(3):
        assert call(api, "GET", "/api/v1/articles/Luat%20Cu%20tru%202020/20",
                    client=client)[0] == 503  # no search index in this server
    assert_limited(*call(api, "GET", "/van-ban/Luat%20Cu%20tru%202020/20", client=client,
                         accept="text/html,application/xhtml+xml"), shape="html")
    assert_limited(*call(api, "GET", "/api/v1/articles/Luat%20Cu%20tru%202020/20",
                         client=client))


def test_open311_reads(api):
    assert_limited(*spend(api, "GET", "/open311/v2/services.json", 5, client=address()),
                   shape="open311")


def test_open311_submissions_are_capped_per_day_per_address(api):
    client = address()
    fields = {"service_code": "xay-dung.complaint", "api_key": api.tokens["service"]}
    for i in range(2):
        status, _, body = call(api, "POST", "/open311/v2/requests.json", client=client,
                               form={**fields, "description": f"Ổ gà trên đường số {i}, "
                                     f"{uuid.uuid4().hex}: xe máy ngã nhiều lần."})
        assert status == 201, body
    status, headers, body = call(api, "POST", "/open311/v2/requests.json", client=client,
                                 form={**fields, "description": "Lần thứ ba trong ngày."})
    assert assert_limited(status, headers, body, shape="open311", short=False) > 3600
    status, _, body = call(api, "POST", "/open311/v2/requests.json", client=address(),
                           form={**fields, "description": f"Cột điện nghiêng {uuid.uuid4()}"})
    assert status == 201, body


def feedback(sender: str, channel: str = "zalo") -> dict:
    return {"kind": "complaint", "channel": channel, "sender_id": sender,
            "text": f"Nước sinh hoạt ở thôn Làng Giàng bị đục nhiều ngày ({uuid.uuid4().hex}).",
            "idempotency_key": f"limits-{uuid.uuid4().hex}"}


def test_daily_cap_per_sender_not_per_address(api):
    """The action server files for every citizen from one address: the cap is per sender."""
    client, token = address(), api.tokens["service"]
    sender = f"zalo-{uuid.uuid4().hex[:8]}"
    for _ in range(3):
        status, _, body = call(api, "POST", "/api/v1/feedback", client=client, token=token,
                               body=feedback(sender))
        assert status == 201, body
    status, headers, body = call(api, "POST", "/api/v1/feedback", client=client, token=token,
                                 body=feedback(sender))
    assert assert_limited(status, headers, body, short=False) > 3600
    # Another citizen through the same action server, and the same id on another channel.
    for other in (feedback(f"zalo-{uuid.uuid4().hex[:8]}"), feedback(sender, "messenger")):
        status, _, body = call(api, "POST", "/api/v1/feedback", client=client, token=token,
                               body=other)
        assert status == 201, body


def test_nobody_else_spends_a_citizens_budget(api):
    """Without a valid token nothing is counted for the sender named in the body."""
    sender = f"zalo-{uuid.uuid4().hex[:8]}"
    for _ in range(5):
        status, _, _ = call(api, "POST", "/api/v1/feedback", client=address(),
                            token="forged", body=feedback(sender))
        assert status == 401
    status, _, body = call(api, "POST", "/api/v1/feedback", client=address(),
                           token=api.tokens["service"], body=feedback(sender))
    assert status == 201, body


def test_votes_per_sender(api):
    client, token = address(), api.tokens["service"]

    def vote(sender: str) -> dict:
        return {"question": "Đăng ký thường trú cần giấy tờ gì?", "helpful": True,
                "channel": "web", "sender_id": sender,
                "idempotency_key": f"vote-{uuid.uuid4().hex}"}

    sender = f"web-{uuid.uuid4().hex[:8]}"
    for _ in range(3):
        status, _, body = call(api, "POST", "/api/v1/answers/votes", client=client, token=token,
                               body=vote(sender))
        assert status == 201, body
    assert_limited(*call(api, "POST", "/api/v1/answers/votes", client=client, token=token,
                         body=vote(sender)))
    status, _, body = call(api, "POST", "/api/v1/answers/votes", client=client, token=token,
                           body=vote(f"web-{uuid.uuid4().hex[:8]}"))
    assert status == 201, body


def test_chat_per_sender_and_per_address(api):
    client = address()
    first, second = http.cookiejar.CookieJar(), http.cookiejar.CookieJar()
    assert call(api, "GET", "/chat", client=client, cookies=first, accept="text/html")[0] == 200
    message = {"message": "hỏi"}
    # Three messages from this browser, then its own limit (the address has budget left).
    assert_limited(*spend(api, "POST", "/chat/api/messages", 3, client=client, cookies=first,
                          body=message))
    # A second browser behind the same address is not affected...
    assert call(api, "GET", "/chat", client=client, cookies=second, accept="text/html")[0] == 200
    status, _, body = call(api, "POST", "/chat/api/messages", client=client, cookies=second,
                           body=message)
    assert status == 200, body
    # ...until the address's own budget is spent (6 a minute; the refused message above was not
    # counted for the address).
    assert_limited(*call(api, "POST", "/chat/api/messages", client=client, cookies=second,
                         body=message))
    # Dropping the cookie does not help: the page itself is refused, as a page.
    assert_limited(*call(api, "GET", "/chat", client=client, accept="text/html"), shape="html")


def test_defaults_stop_300_status_lookups_in_2_seconds(tmp_path):
    """The shipped defaults, not this module's tight ones."""
    from feedback_api.ratelimit import RateLimits
    from feedback_api.settings import Settings

    limits = RateLimits(Settings(data_dir=tmp_path, load_search=False))
    answered = 0
    started = time.monotonic()
    for _ in range(300):
        try:
            limits.check("status", "ip", "198.51.100.7")
            answered += 1
        except Exception as exc:  # noqa: BLE001 - TooManyRequests, asserted below
            assert type(exc).__name__ == "TooManyRequests"
    assert time.monotonic() - started < 2
    assert answered <= 20


def test_two_api_processes_share_one_budget_in_redis(db_url, database, model_dir, smtp,
                                                     rasa):
    """CAUNOI_RATE_LIMIT_STORAGE=redis://…: a budget spent on one process is spent on both."""
    env = service_env(db_url, model_dir, smtp.port, CAUNOI_RUN_WORKER="0",
                      CAUNOI_RASA_URL=rasa.url, CAUNOI_MIGRATE_ON_START="0", **TIGHT,
                      CAUNOI_RATE_LIMIT_STORAGE="redis://127.0.0.1:6379/3")
    first, second = Api(env), Api(env)
    try:
        token = cli("token", "create", "--role", "service", "--name",
                    f"redis-{uuid.uuid4().hex[:6]}", env=env)
        sender = f"zalo-{uuid.uuid4().hex}"
        for server in (first, second, first):  # the daily cap is 3 for this sender
            status, _, body = call(server, "POST", "/api/v1/feedback", client=address(),
                                   token=token, body=feedback(sender))
            assert status == 201, body
        status, headers, body = call(second, "POST", "/api/v1/feedback", client=address(),
                                     token=token, body=feedback(sender))
        assert_limited(status, headers, body, short=False)
        client = address()  # and per address: 3 look-ups a minute across both processes
        for server in (first, second, second):
            assert call(server, "GET", "/api/v1/status/PA-NOSUCH12", client=client)[0] == 404
        assert_limited(*call(first, "GET", "/api/v1/status/PA-NOSUCH12", client=client))
        # Redis holds neither the sender id nor the address, and every counter expires.
        import redis

        store = redis.Redis.from_url("redis://127.0.0.1:6379/3")
        names = [name for name in store.scan_iter("LIMITS*")]
        assert names
        assert not any(sender.encode() in n or client.encode() in n for n in names)
        assert all(store.ttl(n) != -1 for n in names)
    finally:
        first.stop()
        second.stop()


def test_an_unreachable_storage_lets_requests_through(tmp_path, caplog):
    """The limits protect the service; a Redis that is down must not take the API down."""
    from feedback_api.ratelimit import RateLimits
    from feedback_api.settings import Settings
    from tests.feedback_api.conftest import free_port

    limits = RateLimits(Settings(data_dir=tmp_path, load_search=False,
                                 rate_limit_storage=f"redis://127.0.0.1:{free_port()}/0",
                                 rate_limit_status="1/minute"))
    started = time.monotonic()
    for _ in range(5):
        limits.check("status", "ip", "198.51.100.8")  # no TooManyRequests, no error
    assert time.monotonic() - started < 2
    assert "unreachable" in caplog.text
