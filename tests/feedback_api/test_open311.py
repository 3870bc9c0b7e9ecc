"""Open311 GeoReport v2 through a real server, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

import pytest

from tests.feedback_api.server import SmtpSink, api_with_tokens, service_env

BASE = "/open311/v2"


@pytest.fixture(scope="module")
def api(db_url, database, model_dir):
    sink = SmtpSink().start()
    env = service_env(db_url, model_dir, sink.port)
    server = api_with_tokens(env, "open311", "service", "triage")
    yield server
    server.stop()
    sink.stop()


def post_form(api, fields: dict, *, headers: dict | None = None) -> tuple[int, object]:
    """POST form-encoded, as GeoReport clients do."""
    data = urllib.parse.urlencode(fields).encode()
    req = urllib.request.Request(api.base + f"{BASE}/requests.json", data=data, method="POST")
    req.add_header("Content-Type", "application/x-www-form-urlencoded")
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def get(api, path: str, **params) -> tuple[int, object]:
    query = f"?{urllib.parse.urlencode(params)}" if params else ""
    return api.request("GET", f"{BASE}{path}{query}")


def is_error(body, code: int) -> bool:
    return (isinstance(body, list) and len(body) == 1 and body[0]["code"] == code
            and isinstance(body[0]["description"], str) and body[0]["description"])


def form(api, **fields) -> dict:
    return {"api_key": api.tokens["service"], "service_code": "xay-dung.complaint",
            "description": "Mặt đường tỉnh lộ 152 đoạn qua xã Tả Van bị lún, ổ gà sâu.",
            "address_string": "xã Tả Van, Sa Pa", **fields}


def test_services_cover_every_department_and_kind(api):
    status, services = get(api, "/services.json")
    assert status == 200
    assert len(services) == 14 * 3
    codes = {s["service_code"] for s in services}
    assert {"xay-dung.complaint", "xay-dung.proposal", "cong-an.question"} <= codes
    build = next(s for s in services if s["service_code"] == "xay-dung.complaint")
    assert build["service_name"] == "Phản ánh — Sở Xây dựng"
    assert build["group"] == "Sở Xây dựng" and build["description"]
    assert build["metadata"] is False and build["type"] == "realtime" and build["keywords"]


def test_submitted_request_is_assigned_and_public_without_personal_data(api, database):
    from feedback_api.feedback.orm import FeedbackItem

    device = f"dev-{uuid.uuid4().hex[:8]}"
    fields = form(api, device_id=device, first_name="An", last_name="Lò Văn",
                  phone="0912345678", email="an@example.com",
                  media_url="https://anh.example/o-ga.jpg",
                  description="Đường tỉnh lộ 152 lún nặng, gọi tôi 0912345678 hoặc an@example.com")
    status, body = post_form(api, fields)
    assert status == 201, body
    assert body[0]["account_id"] is None
    code = body[0]["service_request_id"]
    assert "Sở Xây dựng" in body[0]["service_notice"]
    assert "consent=true" in body[0]["service_notice"]  # contact dropped: no consent given
    with database.session() as s:
        item = s.query(FeedbackItem).filter_by(tracking_code=code).one()
        assert item.department_code == "xay-dung" and item.status == "routed"
        assert item.channel == "api" and item.sender_id == device
        assert item.contact_phone is None and item.contact_name is None
        assert item.attachments == ["https://anh.example/o-ga.jpg"]

    status, one = get(api, f"/requests/{code}.json")
    assert status == 200 and len(one) == 1
    request = one[0]
    assert request["service_request_id"] == code and request["status"] == "open"
    assert request["service_code"] == "xay-dung.complaint"
    assert request["agency_responsible"] == "Sở Xây dựng"
    assert request["address"] == "xã Tả Van, Sa Pa"
    assert request["media_url"] == "https://anh.example/o-ga.jpg"
    assert "lún nặng" in request["description"]
    flat = json.dumps(one, ensure_ascii=False)
    for private in ("0912345678", "an@example.com", device, "Lò Văn An"):
        assert private not in flat
    for field in ("requested_datetime", "updated_datetime", "expected_datetime"):
        assert request[field]

    status, listed = get(api, "/requests.json", service_code="xay-dung.complaint", status="open")
    assert status == 200 and code in {r["service_request_id"] for r in listed}
    assert device not in json.dumps(listed)
    status, closed = get(api, "/requests.json", status="closed")
    assert status == 200 and code not in {r["service_request_id"] for r in closed}
    status, by_ids = get(api, "/requests.json", service_request_id=f"{code},PA-ZZZZZZZZ")
    assert status == 200 and [r["service_request_id"] for r in by_ids] == [code]


def test_consent_keeps_contact_and_resend_is_idempotent(api, database):
    from feedback_api.feedback.orm import FeedbackItem

    fields = form(api, service_code="y-te.proposal", consent="true", first_name="Bình",
                  last_name="Giàng A", phone="0987654321", idempotency_key=uuid.uuid4().hex,
                  description="Đề nghị trạm y tế xã mở cửa cả sáng thứ Bảy.")
    status, first = post_form(api, fields)
    assert status == 201, first
    status, again = post_form(api, fields)
    assert status == 200 and again[0]["service_request_id"] == first[0]["service_request_id"]
    with database.session() as s:
        item = s.query(FeedbackItem).filter_by(tracking_code=first[0]["service_request_id"]).one()
        assert item.contact_consent and item.contact_name == "Giàng A Bình"
        assert item.contact_phone == "0987654321" and item.kind == "proposal"
    # Without an idempotency_key, an identical resend is still recognised.
    plain = form(api, description=f"Cống thoát nước bị tắc ở tổ {uuid.uuid4().hex[:6]}.")
    assert post_form(api, plain)[0] == 201
    status, again = post_form(api, plain)
    assert status == 200


def test_bearer_header_and_json_body_are_accepted(api):
    body = {"service_code": "giao-duc.question", "lat": 22.3364, "long": 103.8438,
            "description": "Khi nào có lịch tuyển sinh lớp 10 năm nay?"}
    status, created = api.request("POST", f"{BASE}/requests.json", body,
                                  token=api.tokens["service"])
    assert status == 201, created
    _, one = get(api, f"/requests/{created[0]['service_request_id']}.json")
    assert one[0]["lat"] == pytest.approx(22.3364) and one[0]["long"] == pytest.approx(103.8438)


def test_formal_complaint_goes_to_inspectorate_and_text_stays_private(api):
    fields = form(api, service_code="tai-chinh.complaint",
                  description="Tôi muốn tố cáo cán bộ thuế phường nhũng nhiễu, đòi tiền.")
    status, body = post_form(api, fields)
    assert status == 201 and "Luật Tố cáo" in body[0]["service_notice"]
    _, one = get(api, f"/requests/{body[0]['service_request_id']}.json")
    assert one[0]["agency_responsible"] == "Thanh tra tỉnh"
    assert one[0]["description"] is None and one[0]["address"] is None


def submit_and_reply(api, *, reply: str, open311: dict | None = None, **fields) -> str:
    """An item (through Open311 with ``open311`` fields, else the feedback API), routed and
    answered by an official; its tracking code."""
    if open311 is not None:
        status, created = post_form(api, form(api, **open311))
        assert status == 201, created
        code = created[0]["service_request_id"]
    else:
        body = {"kind": "complaint", "idempotency_key": uuid.uuid4().hex, **fields}
        status, created = api.request("POST", "/api/v1/feedback", body,
                                      token=api.tokens["service"])
        assert status == 201, created
        code = created["tracking_code"]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # the worker routes what came in without a department
        item = api.request("GET", f"/api/v1/feedback/{code}", token=api.tokens["triage"])[1]
        if item["status"] != "new":
            break
        time.sleep(0.2)
    status, answered = api.request("POST", f"/api/v1/feedback/{code}/reply", {"text": reply},
                                   token=api.tokens["triage"])
    assert status == 200 and answered["status"] == "answered", answered
    return code


def test_listing_shows_only_open311_items_and_never_a_reply(api, database):
    """Defect 2: the public list published every channel's items and the replies written to
    one citizen (names, phone numbers, the reply to a denunciation)."""
    from feedback_api.feedback.orm import FeedbackItem

    tag = uuid.uuid4().hex[:6]
    replies = {
        "web": f"Chào chị Lò Thị Hoa (0912 345 678), tổ {tag}: Sở đã cử người sửa đèn.",
        "denunciation": f"Thanh tra tỉnh đã nhận tố cáo về ông Nguyễn Văn Khoa ({tag}).",
        "formal311": f"Thanh tra tỉnh đã thụ lý khiếu nại của anh Vàng A Sùng ({tag}).",
        "public": f"Sở Xây dựng đã vá ổ gà, cảm ơn anh Giàng A Páo 0987 111 222 ({tag}).",
    }
    codes = {
        "web": submit_and_reply(api, reply=replies["web"], channel="web",
                                sender_id=f"web-{tag}",
                                text=f"Đèn đường tổ {tag} phường Cốc Lếu hỏng cả tháng nay"),
        "denunciation": submit_and_reply(
            api, reply=replies["denunciation"], channel="zalo", sender_id=f"zalo-{tag}",
            text=f"Tôi tố cáo cán bộ địa chính xã {tag} đòi tiền khi làm sổ đỏ"),
        "formal311": submit_and_reply(api, reply=replies["formal311"], open311={
            "description": f"Tôi khiếu nại quyết định thu hồi đất ở thôn {tag}"}),
        "public": submit_and_reply(api, reply=replies["public"], open311={
            "description": f"Ổ gà lớn trên đường vào bản {tag}, xe máy đã ngã"}),
    }
    status, listed = get(api, "/requests.json")
    assert status == 200
    shown = {r["service_request_id"]: r for r in listed}
    assert codes["public"] in shown
    for name in ("web", "denunciation", "formal311"):
        assert codes[name] not in shown, name
    assert shown[codes["public"]]["status_notes"] == "Đã trả lời"
    flat = json.dumps(listed, ensure_ascii=False)
    for text in (*replies.values(), "Lò Thị Hoa", "0912 345 678", "Nguyễn Văn Khoa",
                 "Giàng A Páo", "0987 111 222"):
        assert text not in flat
    with database.session() as s:  # every listed item came in through Open311, none formal
        for item in s.query(FeedbackItem).filter(FeedbackItem.tracking_code.in_(list(shown))):
            assert item.idempotency_key.startswith("open311:") and not item.formal_complaint
    # Filters narrow the same public set: a department's filter still hides the others' items.
    _, filtered = get(api, "/requests.json", service_code="xay-dung.complaint,thanh-tra.complaint")
    assert {r["service_request_id"] for r in filtered} & set(codes.values()) == {codes["public"]}
    # Whoever holds a code still sees its status and the reply, by code or by id lookup.
    for name, code in codes.items():
        status, one = get(api, f"/requests/{code}.json")
        assert status == 200 and one[0]["status_notes"] == replies[name], name
    status, by_ids = get(api, "/requests.json", service_request_id=f"{codes['web']},PA-ZZZZZZZZ")
    assert status == 200 and [r["status_notes"] for r in by_ids] == [replies["web"]]


def test_items_from_other_channels_do_not_publish_their_text(api):
    status, created = api.request("POST", "/api/v1/feedback", {
        "kind": "complaint", "channel": "zalo", "sender_id": "zalo-999",
        "text": "Nhà tôi ở thôn 2 bị ngập, tôi là Vàng Thị C", "idempotency_key": uuid.uuid4().hex,
    }, token=api.tokens["service"])
    assert status == 201, created
    status, one = get(api, f"/requests/{created['tracking_code']}.json")
    assert status == 200 and one[0]["description"] is None
    assert "Vàng Thị C" not in json.dumps(one, ensure_ascii=False) and "zalo-999" not in str(one)


@pytest.mark.parametrize(
    ("fields", "headers", "expected"),
    [
        ({"service_code": "khong-co.complaint"}, None, 404),
        ({"service_code": "xay-dung.rant"}, None, 400),
        ({"service_code": ""}, None, 400),
        ({"description": ""}, None, 400),
        ({"description": "x" * 5001}, None, 400),
        ({"description": "\u0085\u3000"}, None, 400),  # blank in Python, Rust and ECMAScript
        ({"lat": "north", "long": "103.8"}, None, 400),
        ({"media_url": "javascript:alert(1)"}, None, 400),
        ({"consent": "true", "first_name": "A", "phone": "gọi tôi"}, None, 400),
        ({"api_key": ""}, None, 401),
        ({"api_key": "cn_not-a-real-token"}, None, 403),
        ({"api_key": "triage"}, None, 403),
    ],
)
def test_bad_submissions_get_open311_errors(api, fields, headers, expected):
    if fields.get("api_key") == "triage":
        fields = {**fields, "api_key": api.tokens["triage"]}
    status, body = post_form(api, form(api, **fields), headers=headers)
    assert status == expected, body
    assert is_error(body, expected), body


def test_same_key_with_other_text_is_a_conflict(api):
    key = uuid.uuid4().hex
    assert post_form(api, form(api, idempotency_key=key))[0] == 201
    status, body = post_form(api, form(api, idempotency_key=key, description="Nội dung khác"))
    assert status == 409 and is_error(body, 409)


@pytest.mark.parametrize(
    ("path", "params", "expected"),
    [
        ("/requests/PA-ZZZZZZZZ.json", {}, 404),
        ("/requests/khong-phai-ma.json", {}, 404),
        ("/requests.json", {"status": "pending"}, 400),
        ("/requests.json", {"service_code": "xay-dung"}, 400),
        ("/requests.json", {"start_date": "hôm qua"}, 400),
        ("/requests.json", {"start_date": "2024-01-01T00:00:00"}, 400),  # no UTC offset
        ("/requests.json", {"end_date": "2024-02-30T00:00:00Z"}, 400),
        ("/requests.json", {"service_request_id": ",".join(f"PA-ZZZZZZ{i:02d}" for i in range(21))},
         400),  # at most 20 codes per look-up
        ("/services.xml", {}, 400),
        ("/requests.xml", {}, 400),
        ("/requests/PA-ZZZZZZZZ.xml", {}, 400),
    ],
)
def test_bad_queries_get_open311_errors(api, path, params, expected):
    status, body = get(api, path, **params)
    assert status == expected, body
    assert is_error(body, expected), body


@pytest.mark.parametrize("query", [
    "service_request_id=PA-ZZZZZZZZ&start_date=true",  # ids override filters, not their check
    "service_request_id=PA-ZZZZZZZZ&service_request_id=PA-YYYYYYYY",  # one value, not last wins
    "status=open&status=closed",
    "end_date=&service_request_id=",  # an empty date is not "no bound" (schemathesis found it)
])
def test_every_parameter_is_checked_even_when_ids_override_the_rest(api, query):
    status, body = api.request("GET", f"{BASE}/requests.json?{query}")
    assert status == 400 and is_error(body, 400), body


def test_unknown_form_fields_are_ignored(api):
    """GeoReport clients send fields of their own; the schema allows them and so do we."""
    status, body = post_form(api, form(api, device_type="Android", **{"x-client": "1"}))
    assert status == 201, body


def test_xml_submission_is_refused_in_vietnamese(api):
    status, body = api.request("POST", f"{BASE}/requests.xml", {"service_code": "x"})
    assert status == 400 and "JSON" in body[0]["description"]


def test_date_window_and_limits(api):
    status, old = get(api, "/requests.json", start_date="2020-01-01T00:00:00+07:00",
                      end_date="2020-03-01T00:00:00+07:00")
    assert status == 200 and old == []
    status, everything = get(api, "/requests.json")
    assert status == 200 and 0 < len(everything) <= 1000
    # A range longer than 90 days is cut to its last 90 days, so today's items are in it.
    status, long_range = get(api, "/requests.json", start_date="2001-01-01T00:00:00Z",
                             end_date="2999-01-01T00:00:00Z")
    assert status == 200 and long_range == []
    status, reversed_range = get(api, "/requests.json", start_date="2030-01-01T00:00:00Z",
                                 end_date="2020-01-01T00:00:00Z")
    assert status == 200 and reversed_range == []
    status, extreme = get(api, "/requests.json", start_date="0001-01-01T00:00:00+14:00")
    assert status == 200 and extreme == []
    status, unknown = get(api, "/requests.json", service_code="khong-co.complaint")
    assert status == 200 and unknown == []
