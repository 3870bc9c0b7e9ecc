"""The command line, run as a newcomer would: ``python -m knowledge ...`` in a subprocess."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import LOCAL_POLICY, REPO


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "knowledge", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture(scope="module")
def questions(tmp_path_factory):
    rows = [
        {
            "id": "q1",
            "text": "Nam từ đủ 20 tuổi, nữ từ đủ 18 tuổi thì được kết hôn",
            "relevant": [{"law_id": "Luật Hôn nhân và gia đình 2014", "article_id": "8"}],
        },
        {
            "id": "q2",
            "text": "dieu kien dang ky thuong tru",
            "relevant": [{"law_id": "Luật Cư trú 2020", "article_id": "20"}],
        },
        {"id": "q3", "text": "câu hỏi không có đáp án", "relevant": []},
    ]
    path = tmp_path_factory.mktemp("q") / "questions.json"
    path.write_text(json.dumps(rows, ensure_ascii=False))
    return path


def test_eval_json_last_line_has_the_metrics(small_index, model_dir, questions):
    done = _run(
        "--index",
        str(small_index),
        "--model",
        str(model_dir),
        "eval",
        str(questions),
        "--json",
        "--k",
        "10",
    )
    assert done.returncode == 0, done.stderr
    metrics = json.loads(done.stdout.strip().splitlines()[-1])
    assert set(metrics) == {"recall@1", "recall@5", "recall@10", "mrr@10", "p50_ms", "p95_ms", "n"}
    assert metrics["n"] == 2  # the question without gold articles is not scored
    assert metrics["recall@10"] == 1.0 and metrics["mrr@10"] >= 0.5
    assert 0 < metrics["p50_ms"] <= metrics["p95_ms"]


def test_eval_rejects_a_malformed_question_file(small_index, model_dir, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"not": "a list"')
    done = _run("--index", str(small_index), "--model", str(model_dir), "eval", str(bad))
    assert done.returncode == 2
    assert "Không đọc được tệp câu hỏi" in done.stderr
    assert "Traceback" not in done.stderr


def test_search_prints_citations(small_index, model_dir):
    done = _run(
        "--index",
        str(small_index),
        "--model",
        str(model_dir),
        "search",
        "vk ck bỏ nhau thì chia tài sản thế nào",
        "--k",
        "3",
    )
    assert done.returncode == 0, done.stderr
    assert "Luật Hôn nhân và gia đình 2014" in done.stdout
    assert "Độ tin cậy" in done.stdout


def test_search_without_an_index_explains_what_to_run(tmp_path, model_dir):
    done = _run("--index", str(tmp_path / "none"), "--model", str(model_dir), "search", "hỏi")
    assert done.returncode == 2
    assert "python -m knowledge build" in done.stderr


def test_build_of_an_unchanged_corpus_does_no_work(small_corpus, small_index, model_dir, tmp_path):
    index = tmp_path / "index"
    shutil.copytree(small_index, index)
    done = _run(
        "--index",
        str(index),
        "--model",
        str(model_dir),
        "build",
        "--no-default-corpus",
        "--laws",
        str(small_corpus.laws[0]),
        "--docs",
        str(small_corpus.folders[0]),
        "--samples",
        str(small_corpus.samples[0]),
    )
    assert done.returncode == 0, done.stderr
    assert "không có gì thay đổi" in done.stdout


# The default corpus's laws are not in the repository ------------------------------------------


@pytest.fixture(scope="module")
def lone_clone(tmp_path_factory) -> Path:
    """The code in a folder with no ../shared beside it, as in a clone made on its own: there the
    default laws file (``<repo>/../shared/data/legal/laws.json``) cannot be reached."""
    root = tmp_path_factory.mktemp("elsewhere") / "repo"
    for package in ("knowledge", "vietnamese"):
        shutil.copytree(REPO / package, root / package,
                        ignore=shutil.ignore_patterns("__pycache__"))
    assert not (root.parent / "shared").exists()
    return root


def _run_in(root: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    """``python -m knowledge`` from ``root`` (its own copy of the code), with ``env`` on top of
    this environment minus any CAUNOI_LAWS_FILE."""
    environ = {k: v for k, v in os.environ.items()
               if k not in {"CAUNOI_LAWS_FILE", "CAUNOI_EXTRA_LAWS_FILE", "PYTHONPATH"}}
    return subprocess.run([sys.executable, "-m", "knowledge", *args], cwd=root,
                          env={**environ, **env}, capture_output=True, text=True, timeout=300)


def _manifest(index: Path) -> dict:
    return json.loads((index / "manifest.json").read_text(encoding="utf-8"))


def test_build_without_the_laws_file_says_in_one_line_what_to_do(lone_clone, model_dir,
                                                                    tmp_path):
    index, missing = tmp_path / "index", tmp_path / "nowhere" / "laws.json"
    named = _run_in(lone_clone, "--index", str(index), "--model", str(model_dir), "build",
                    CAUNOI_LAWS_FILE=str(missing))
    default = _run_in(lone_clone, "--index", str(index), "--model", str(model_dir), "build")
    for done, path in ((named, missing), (default, lone_clone.parent / "shared")):
        assert done.returncode == 2
        (line,) = done.stderr.strip().splitlines()
        assert str(path) in line and "CAUNOI_LAWS_FILE" in line
        assert "python -m knowledge build --no-default-corpus --docs" in line
    assert "Không thấy bộ luật mặc định" in default.stderr
    assert not index.exists()


def test_build_reads_the_laws_of_the_file_caunoi_laws_file_names(lone_clone, model_dir, tmp_path):
    laws = tmp_path / "luat-cua-tinh.json"
    articles = [
        {"id": "1", "text": "Phạm vi điều chỉnh\nLuật này quy định việc nuôi ong lấy mật ở xã "
                            "vùng cao."},
        {"id": "2", "text": "Hỗ trợ\nHộ nuôi ong được hỗ trợ mua thùng ong giống."},
    ]
    laws.write_text(json.dumps([{"id": "Luật Nuôi ong 2030", "articles": articles}],
                               ensure_ascii=False), encoding="utf-8")
    index = tmp_path / "index"
    missing = _run_in(lone_clone, "--index", str(index), "--model", str(model_dir), "build",
                      CAUNOI_LAWS_FILE=str(laws))
    (line,) = missing.stderr.strip().splitlines()  # the second laws file: named, or said off
    assert missing.returncode == 2 and "CAUNOI_EXTRA_LAWS_FILE" in line
    assert str(lone_clone.parent / "shared" / "data" / "legal-extra") in line
    assert not index.exists()
    done = _run_in(lone_clone, "--index", str(index), "--model", str(model_dir), "build",
                   CAUNOI_LAWS_FILE=str(laws), CAUNOI_EXTRA_LAWS_FILE="")
    assert done.returncode == 0, done.stderr
    documents = _manifest(index)["documents"]
    assert "Luật Nuôi ong 2030" in documents  # with the shipped documents of the default corpus
    assert not any(doc.startswith("Luật Cư trú") for doc in documents)


def test_the_provinces_documents_build_without_any_laws_file(lone_clone, model_dir, tmp_path):
    docs = tmp_path / "van-ban-tinh"
    docs.mkdir()
    (docs / "ho-tro.md").write_text(LOCAL_POLICY, encoding="utf-8")
    index = tmp_path / "index"
    done = _run_in(lone_clone, "--index", str(index), "--model", str(model_dir), "build",
                   "--no-default-corpus", "--docs", str(docs))
    assert done.returncode == 0, done.stderr
    assert list(_manifest(index)["documents"]) == ["ho-tro"]


def test_make_says_at_once_that_the_laws_are_missing(lone_clone, tmp_path):
    """make run and make test check the laws with the system's Python before installing
    anything (``python -m knowledge.sources``, standard library only), and the advice they give
    is one make can follow."""
    def check(*args: str, **env: str) -> subprocess.CompletedProcess:
        environ = {k: v for k, v in os.environ.items()
                   if k not in {"CAUNOI_LAWS_FILE", "CAUNOI_EXTRA_LAWS_FILE"}}
        return subprocess.run([sys.executable, "-S", "-m", "knowledge.sources", *args],
                              cwd=lone_clone, env={**environ, **env}, capture_output=True,
                              text=True, timeout=60)

    missing = check()
    assert missing.returncode == 2
    (line,) = missing.stderr.strip().splitlines()
    assert "CAUNOI_LAWS_FILE" in line and str(lone_clone.parent / "shared") in line
    assert 'make run INDEX_ARGS="--no-default-corpus --docs' in line
    assert check("--no-default-corpus", "--docs", "x").returncode == 0
    laws = tmp_path / "laws.json"
    laws.write_text("[]", encoding="utf-8")
    assert check(CAUNOI_LAWS_FILE=str(laws)).returncode == 2  # and the second file?
    assert check(CAUNOI_LAWS_FILE=str(laws), CAUNOI_EXTRA_LAWS_FILE=str(laws)).returncode == 0
    assert check(CAUNOI_LAWS_FILE=str(laws), CAUNOI_EXTRA_LAWS_FILE="").returncode == 0
