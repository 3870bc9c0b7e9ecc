"""The search endpoint, through a real uvicorn server on loopback."""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

from tests.conftest import REPO


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=30) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"{}")


@pytest.fixture(scope="module")
def api(small_index, model_dir):
    port = _free_port()
    env = {**os.environ, "CAUNOI_INDEX_DIR": str(small_index), "CAUNOI_MODEL_DIR": str(model_dir)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "feedback_api", "serve", "--port", str(port)],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"server exited: {proc.stdout.read().decode()}")
        try:
            if _get(base + "/healthz")[0] == 200:
                break
        except OSError:
            time.sleep(0.3)
    else:
        proc.kill()
        pytest.fail("server did not start in 120 s")
    yield base
    proc.terminate()
    proc.wait(timeout=30)


def _search(api: str, **params) -> tuple[int, dict]:
    return _get(f"{api}/api/v1/search?{urllib.parse.urlencode(params)}")


def test_search_returns_cited_hits(api):
    status, body = _search(api, q="nam bao nhieu tuoi thi duoc ket hon", k=3)
    assert status == 200
    assert len(body["hits"]) == 3
    top = body["hits"][0]
    assert (top["law_id"], top["article_id"]) == ("Luật Hôn nhân và gia đình 2014", "8")
    assert top["citation"] == "Điều 8 Luật Hôn nhân và gia đình 2014"
    assert top["department"] == "tu-phap"
    assert isinstance(body["confident"], bool)
    assert "bao nhiêu tuổi" in body["interpreted"]  # diacritics restored


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"q": ""},
        {"q": "   "},
        {"q": "x" * 1001},
        {"q": "hỏi", "k": 0},
        {"q": "hỏi", "k": 21},
        {"q": "hỏi", "k": "năm"},
    ],
)
def test_bad_input_is_a_clear_422(api, params):
    status, body = _search(api, **params)
    assert status == 422
    assert isinstance(body["detail"], str) and body["detail"]


def test_openapi_documents_the_search(api):
    status, body = _get(api + "/openapi.json")
    assert status == 200 and "/api/v1/search" in body["paths"]
