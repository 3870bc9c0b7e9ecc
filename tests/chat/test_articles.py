"""Read more: whole articles from the real (small) index, as JSON and as a page."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from urllib.parse import quote

import pytest

from knowledge import laws_file

LAW = "Luật Cư trú 2020"


def get(base: str, path: str) -> tuple[int, str, str]:
    try:
        with urllib.request.urlopen(base + path, timeout=60) as response:
            return response.status, response.headers["Content-Type"], response.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.headers["Content-Type"], err.read().decode()


def source_article(law_id: str, article_id: str) -> tuple[str, str]:
    """(title, body) of an article as laws.json has it: the first line is the title."""
    laws = {law["id"]: law for law in json.loads(laws_file().read_text())}
    text = next(a["text"] for a in laws[law_id]["articles"] if a["id"] == article_id)
    title, _, body = text.partition("\n")
    return title.strip(), body


def words(text: str) -> list[str]:
    return text.split()


def test_an_article_split_into_passages_comes_back_whole_and_in_order(reader_api):
    status, kind, raw = get(reader_api.base, f"/api/v1/articles/{quote(LAW)}/20")
    assert status == 200 and kind == "application/json", raw
    article = json.loads(raw)
    title, body = source_article(LAW, "20")
    assert article["law_id"] == LAW and article["law_title"] == LAW
    assert (article["article_id"], article["article_title"]) == ("20", title)
    assert article["citation"] == "Điều 20 Luật Cư trú 2020"
    assert (article["department"], article["department_name"]) == ("cong-an", "Công an tỉnh")
    assert article["status"] == "in_force" and article["status_label"] == "Còn hiệu lực"
    # legal validity from knowledge/corpus/law_metadata.json
    assert (article["number"], article["effective"]) == ("68/2020/QH14", "2021-07-01")
    assert article["validity_line"] is None  # nothing known to say about this law
    # Seven passages in the index, by clause (clause 2 is long: split in two), back in order.
    assert [s["clauses"] for s in article["sections"]] == ["1", "2", "2-3", "4", "5", "6-7", "8"]
    assert words(article["text"]) == words(body)
    assert article["text"] == "\n".join(s["text"] for s in article["sections"])


def test_the_page_shows_the_article_with_its_law_and_a_way_back(reader_api):
    status, kind, html = get(reader_api.base, f"/van-ban/{quote(LAW)}/20")
    assert status == 200 and kind.startswith("text/html")
    title, body = source_article(LAW, "20")
    assert f"Điều 20. {title}" in html
    assert f'<p class="law" id="law-title">{LAW}</p>' in html
    assert "Trích dẫn: <strong id=\"citation\">Điều 20 Luật Cư trú 2020</strong>" in html
    assert html.count('href="/chat"') >= 2 and "Còn hiệu lực" in html
    assert '<span id="source">số 68/2020/QH14, hiệu lực từ 01/07/2021</span>' in html
    first, last = body.strip().split("\n")[0], body.strip().split("\n")[-1]
    assert first.strip() in html and last.strip() in html
    assert "src=\"http" not in html and "href=\"http" not in html  # no remote assets


def test_a_local_draft_shows_as_a_draft(reader_api):
    status, _, raw = get(reader_api.base, "/api/v1/articles/qd-chuong-trai/1")
    assert status == 200
    article = json.loads(raw)
    assert article["law_title"] == "Quyết định hỗ trợ chuồng trại"
    assert article["status"] == "draft" and "5 triệu đồng" in article["text"]
    assert article["department_name"] == "Sở Nông nghiệp và Môi trường"
    assert article["validity_line"] == "Đây là dự thảo, chưa có hiệu lực."
    status, _, html = get(reader_api.base, "/van-ban/qd-chuong-trai/1")
    assert status == 200 and "Dự thảo" in html
    assert '<p class="validity" id="validity">Đây là dự thảo, chưa có hiệu lực.</p>' in html


@pytest.mark.parametrize(
    "path",
    [
        f"{quote(LAW)}/999",
        "Lu%E1%BA%ADt%20kh%C3%B4ng%20c%C3%B3/1",
        f"{quote(LAW, safe='')}%2Fx/20",
        "qd%2Fchuong/trai/1",
        f"{quote(LAW.lower())}/20",
        "%2E%2E/%2E%2E/etc/1",
    ],
)
def test_unknown_articles_are_a_vietnamese_404(reader_api, path):
    status, kind, raw = get(reader_api.base, f"/api/v1/articles/{path}")
    assert status == 404 and kind == "application/json"
    assert json.loads(raw)["detail"].startswith("Không tìm thấy điều luật này")
    status, kind, html = get(reader_api.base, f"/van-ban/{path}")
    assert status == 404 and kind.startswith("text/html")
    assert "Không tìm thấy điều luật này" in html and 'href="/chat"' in html


def test_the_article_api_is_documented(reader_api):
    status, _, raw = get(reader_api.base, "/openapi.json")
    operation = json.loads(raw)["paths"]["/api/v1/articles/{law_id}/{article_id}"]["get"]
    assert {"200", "404", "503"} <= set(operation["responses"])
