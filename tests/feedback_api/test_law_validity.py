"""Officials correct a law's legal validity in the inbox, and the next answer says it: a real
API with the small index, on SQLite and PostgreSQL."""

from __future__ import annotations

import html
import urllib.parse

import pytest

from tests.feedback_api.server import Api, cli, service_env
from tests.feedback_api.test_inbox import PASSWORD, audits, logged_in

LAW = "Luật Hôn nhân và gia đình 2014"
PAGE = f"/inbox/admin/laws/{urllib.parse.quote(LAW)}"
QUESTION = "Nam từ đủ 20 tuổi, nữ từ đủ 18 tuổi thì được kết hôn"
EMPTY = {"number": "", "effective": "", "status": "", "expires": "", "replaced_by": "", "note": ""}


@pytest.fixture(scope="module")
def api(db_url, database, model_dir, smtp, small_index):
    env = service_env(db_url, model_dir, smtp.port, CAUNOI_LOAD_SEARCH="1",
                      CAUNOI_INDEX_DIR=str(small_index))
    for username, role, dept in (("hieu-luc-admin", "admin", None),
                                 ("hieu-luc-yte", "liaison", "y-te")):
        extra = ["--department", dept] if dept else []
        cli("user", "create", "--username", username, "--role", role, "--password", PASSWORD,
            *extra, env=env)
    server = Api(env)
    yield server
    server.stop()


def search(api: Api) -> dict:
    status, body = api.request("GET", "/api/v1/search?" + urllib.parse.urlencode(
        {"q": QUESTION, "k": 3}))
    assert status == 200, body
    return body


def test_an_official_expires_a_law_and_the_next_answer_is_not_confident(api, database):
    before = search(api)
    assert before["confident"] and before["hits"][0]["law_id"] == LAW
    assert before["hits"][0]["validity"]["status"] == "in_force"
    assert before["hits"][0]["source"] == "số 52/2014/QH13, hiệu lực từ 01/01/2015"

    admin = logged_in(api, "hieu-luc-admin")
    listing = admin.get("/inbox/admin/laws")
    assert listing.status == 200 and LAW in listing.text and "52/2014/QH13" in listing.text
    assert admin.get(PAGE).status == 200
    page = admin.post(PAGE, {**EMPTY, "expires": "01/01/2020",
                             "replaced_by": "Luật Hôn nhân và gia đình mới"})
    assert page.status == 303 and page.location == "/inbox/admin/laws"
    assert audits(database, "law.validity", LAW)

    after = search(api)  # no rebuild, no restart
    top = after["hits"][0]
    assert top["law_id"] == LAW and not after["confident"]
    assert top["validity"] == {"status": "expired", "label": "Hết hiệu lực", "line":
                               "Văn bản này đã hết hiệu lực từ 01/01/2020, thay bằng Luật Hôn "
                               "nhân và gia đình mới."}
    status, article = api.request("GET", f"/api/v1/articles/{urllib.parse.quote(LAW)}/8")
    assert status == 200 and article["status"] == "expired", article
    assert "Hết hiệu lực" in admin.get("/inbox/admin/laws").text

    # a bad date is refused in Vietnamese and changes nothing
    page = admin.post(PAGE, {**EMPTY, "expires": "31/02/2020"})
    assert page.status == 303 and page.location == PAGE
    shown = admin.get(PAGE).text
    assert "flash-error" in shown and "31/02/2020" in html.unescape(shown)
    assert search(api)["hits"][0]["validity"]["status"] == "expired"

    # an official's note is text, escaped wherever it is shown
    hostile = '<script>alert("x")</script> Chưa cập nhật sửa đổi'
    assert admin.post(PAGE, {**EMPTY, "note": hostile}).status == 303
    listing = admin.get("/inbox/admin/laws").text
    assert "<script>alert" not in listing and "&lt;script&gt;" in listing
    status, _, page_html = _get(api, f"/van-ban/{urllib.parse.quote(LAW)}/8")
    assert status == 200 and "<script>alert" not in page_html and "&lt;script&gt;" in page_html

    # all fields empty: back to the index's metadata, confident again
    assert admin.post(PAGE, EMPTY).status == 303
    again = search(api)
    assert again["confident"] and again["hits"][0]["validity"]["line"] is None


def test_only_admins_edit_validity_and_unknown_documents_are_404(api):
    liaison = logged_in(api, "hieu-luc-yte")
    assert liaison.get("/inbox/admin/laws").status == 403
    assert liaison.post(PAGE, {**EMPTY, "status": "expired"}).status == 403
    assert search(api)["hits"][0]["validity"]["status"] == "in_force"
    admin = logged_in(api, "hieu-luc-admin")
    assert admin.get("/inbox/admin/laws/Lu%E1%BA%ADt%20kh%C3%B4ng%20c%C3%B3").status == 404
    assert admin.post("/inbox/admin/laws/khong-co", {**EMPTY, "note": "x"}).status == 404
    assert admin.post(PAGE, {**EMPTY, "status": "expired"}, csrf="sai").status in (400, 403)


def _get(api: Api, path: str) -> tuple[int, str, str]:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(api.base + path, timeout=60) as response:
            return response.status, response.headers["Content-Type"], response.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.headers["Content-Type"], err.read().decode()
