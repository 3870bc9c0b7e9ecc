"""Fixtures shared by the whole suite."""

import json
import os
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"


@pytest.fixture(scope="session")
def model_dir() -> Path:
    """The converted e5 model folder (built once at install time; reused here)."""
    from knowledge import ensure_model

    return ensure_model(REPO / "models" / "multilingual-e5-small")


def default_laws() -> Path | None:
    """The default corpus's laws (``knowledge.laws_file()``), or None where there are none."""
    from knowledge import laws_file

    try:
        return laws_file()
    except FileNotFoundError:
        return None


@pytest.fixture(scope="session")
def encoder(model_dir):
    """One loaded e5 encoder for every in-process test that does not test loading itself."""
    from knowledge import Encoder

    return Encoder(model_dir)


SUBSET_LAWS = {"Luật Cư trú 2020", "Luật Hôn nhân và gia đình 2014", "Luật Chăn nuôi 2018"}
LOCAL_POLICY = """# Hỗ trợ làm chuồng trại cho hộ nghèo

Điều 1. Đối tượng hỗ trợ

Hộ nghèo ở các xã vùng cao của tỉnh được hỗ trợ một lần 5 triệu đồng để làm chuồng trại
chăn nuôi trâu bò xa nhà ở.

Điều 2. Hồ sơ

Đơn đề nghị có xác nhận của Ủy ban nhân dân cấp xã.
"""


# Sample questions for the local policy: how a citizen asks what its Article 2 answers. The
# last line names an article the policy does not have (reported and skipped by the build).
LOCAL_SAMPLES = "\n".join(json.dumps(row, ensure_ascii=False) for row in [
    {"doc_id": "qd-chuong-trai", "article_id": "2",
     "questions": ["muốn xin tiền làm chuồng trâu thì nộp những giấy tờ gì, ai ký xác nhận"]},
    {"doc_id": "qd-chuong-trai", "article_id": "9", "questions": ["điều này không có"]},
]) + "\n"


@pytest.fixture(scope="session")
def small_corpus(tmp_path_factory):
    """Three real laws (from the default corpus's laws file) plus one local draft policy in a
    document folder."""
    from knowledge import Sources, laws_file
    from knowledge.sources import CORPUS

    root = tmp_path_factory.mktemp("corpus")
    laws = json.loads(laws_file().read_text())
    (root / "laws.json").write_text(json.dumps([law for law in laws if law["id"] in SUBSET_LAWS]))
    docs = root / "docs"
    docs.mkdir()
    (docs / "ho-tro-chuong-trai.md").write_text(LOCAL_POLICY)
    meta = {
        "id": "qd-chuong-trai",
        "title": "Quyết định hỗ trợ chuồng trại",
        "status": "draft",
        "department": "nong-nghiep-moi-truong",
    }
    (docs / "ho-tro-chuong-trai.md.meta.json").write_text(json.dumps(meta))
    samples = root / "samples"
    samples.mkdir()
    for path in sorted((CORPUS / "samples").glob("*.jsonl")):  # the shipped ones of the subset
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
        if rows and rows[0]["doc_id"] in SUBSET_LAWS:
            shutil.copy(path, samples / path.name)
    (samples / "qd-chuong-trai.jsonl").write_text(LOCAL_SAMPLES, encoding="utf-8")
    return Sources(laws=(root / "laws.json",), folders=(docs,), samples=(samples,))


@pytest.fixture(scope="session")
def small_index(small_corpus, model_dir, tmp_path_factory) -> Path:
    """A real index (e5 + FAISS + BM25 + restorer) over the small corpus, built once."""
    from knowledge import build_index

    folder = tmp_path_factory.mktemp("index") / "index"
    report = build_index(folder, small_corpus, model_dir=model_dir, progress=False)
    assert report.passages > 200 and report.embedded > report.passages  # + article headings
    return folder


@pytest.fixture(scope="session")
def rasa_model() -> Path:
    """The Rasa model for the current bot/: trained once (a few minutes) if bot/ changed, else the
    one in models/rasa/ is reused, exactly as `make run` does. CAUNOI_RASA_MODEL names another
    model file to use instead (e.g. while iterating on actions with bot/ mid-edit)."""
    from scripts.stack import ensure_rasa_model

    if os.environ.get("CAUNOI_RASA_MODEL"):
        return Path(os.environ["CAUNOI_RASA_MODEL"])
    return ensure_rasa_model(log=lambda message: print(message, flush=True))
