"""The command line, run as a newcomer would: ``python -m knowledge ...`` in a subprocess."""

import json
import shutil
import subprocess
import sys

import pytest

from tests.conftest import REPO


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
