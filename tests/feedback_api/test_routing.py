"""Department classifier: rules (citations, formal complaints, triage), quality on labelled sets."""

import json
from pathlib import Path

import pytest

from feedback_api.departments.codes import CENTRAL, INSPECTORATE
from feedback_api.departments.routing import (
    DepartmentClassifier,
    DepartmentProfile,
    is_formal_complaint,
)
from knowledge import Encoder
from vietnamese import fold

DATA = Path(__file__).resolve().parents[2] / "benchmarks" / "data"  # the evaluation sets


@pytest.fixture(scope="module")
def classifier(encoder: Encoder) -> DepartmentClassifier:
    return DepartmentClassifier.default(encoder)


def load(name: str) -> list[dict]:
    return json.loads((DATA / name).read_text(encoding="utf-8"))


@pytest.mark.parametrize(
    "text",
    [
        "Tôi muốn khiếu nại quyết định thu hồi đất của UBND xã",
        "toi muon to cao can bo xa nhan hoi lo",
        "Đơn tố cáo của tôi gửi 3 tháng chưa được trả lời",
        "khieu nai lan hai ve viec boi thuong",
        "Xin hỏi thủ tục khiếu nại quyết định hành chính",
    ],
)
def test_formal_complaints_are_recognised(text):
    assert is_formal_complaint(text)


@pytest.mark.parametrize(
    "text",
    [
        "Cây đa đầu làng to cao quá, cành sắp gãy đè vào nhà",
        "nha hang xom xay to cao che het nang nha toi",
        "Tôi không khiếu nại gì, chỉ muốn góp ý về đường làng",
        "Tôi đã khiếu nại với cửa hàng về tủ lạnh hỏng mà không được đổi",
        "Đề nghị sửa đường vào thôn",
    ],
)
def test_not_formal_complaints(text):
    assert not is_formal_complaint(text)


def test_formal_complaint_goes_to_inspectorate_whatever_the_citation(classifier):
    decision = classifier.route(
        "Tôi khiếu nại quyết định thu hồi đất của xã vì bồi thường quá thấp",
        cited_departments=["nong-nghiep-moi-truong"],
    )
    assert decision.department == decision.predicted == INSPECTORATE
    assert decision.auto_routed and decision.formal_complaint
    assert decision.reason == "formal_complaint"


def test_citation_wins_over_vague_text(classifier):
    text = "Tôi muốn hỏi quy định này áp dụng cho gia đình tôi thế nào"
    decision = classifier.route(text, cited_departments=["tu-phap"])
    assert decision.predicted == "tu-phap"
    assert decision.reason == "citation"
    plain = classifier.route(text)
    before = next((a.score for a in plain.alternatives if a.department == "tu-phap"), 0.0)
    assert decision.confidence > before


def test_articles_shown_only_as_related_are_no_routing_hint():
    """When the assistant could not answer, what it found "có thể liên quan" is often another
    department's law (a health-insurance question meets the poor-household barn subsidy): the
    router must read the question alone."""
    from feedback_api.departments.classifier import cited_departments_fn

    cited = cited_departments_fn(None)  # the shipped law -> department table
    assert cited([{"law_id": "Luật Cư trú 2020", "article_id": "20"}]) == ["cong-an"]
    assert cited([{"law_id": "Luật Cư trú 2020", "article_id": "20", "related": True}]) == []
    assert cited([{"law_id": "Luật Đất đai 2024", "article_id": "133"}]) == [
        "nong-nghiep-moi-truong"]


def test_strong_text_can_override_a_citation(classifier):
    text = "Bệnh viện đa khoa tỉnh bắt bệnh nhân có thẻ bảo hiểm y tế tự mua thuốc ngoài"
    decision = classifier.route(text, cited_departments=["van-hoa-the-thao-du-lich"])
    assert decision.predicted == "y-te"


@pytest.mark.parametrize(
    ("text", "department"),
    [
        ("Làm căn cước công dân cho con 14 tuổi ở đâu", "cong-an"),
        ("Cấp giấy chứng nhận quyền sử dụng đất lần đầu mất bao lâu", "nong-nghiep-moi-truong"),
        ("Trường tiểu học thu tiền học thêm buổi chiều bắt buộc", "giao-duc"),
        ("Thôn tôi mất điện liên tục, điện lực không sửa", "cong-thuong"),
        ("Đăng ký khai sinh cho con ở xã cần giấy tờ gì", "tu-phap"),
    ],
)
def test_unaccented_text_routes_like_accented(classifier, text, department):
    accented, plain = classifier.route(text), classifier.route(fold(text))
    assert accented.predicted == plain.predicted == department


@pytest.mark.parametrize("text", ["xin chào", "asdf qwer zxcv", "ok bạn", "hihi", "   ", "!!!"])
def test_no_content_goes_to_triage(classifier, text):
    decision = classifier.route(text)
    assert not decision.auto_routed
    assert decision.department == CENTRAL
    assert decision.confidence < classifier.threshold


def test_alternatives_are_best_first(classifier):
    decision = classifier.route("Đường liên xã bị sạt lở, xe máy không đi qua được")
    scores = [a.score for a in decision.alternatives]
    assert len(decision.alternatives) == 3
    assert scores == sorted(scores, reverse=True)
    assert decision.alternatives[0].department == decision.predicted
    assert decision.confidence == pytest.approx(scores[0])
    assert 0.0 <= sum(scores) <= 1.0
    assert decision.to_dict()["alternatives"][0]["department"] == decision.predicted


def test_edited_mandates_take_effect(encoder):
    departments = [
        DepartmentProfile(CENTRAL, "Văn phòng UBND tỉnh", "Tiếp nhận và phân loại chung."),
        DepartmentProfile("xay-dung", "Sở Xây dựng", "Đường giao thông, cầu cống."),
        DepartmentProfile("y-te", "Sở Y tế", "Bệnh viện, trạm y tế, khám chữa bệnh."),
    ]
    classifier = DepartmentClassifier(departments, encoder=encoder, keywords={}, threshold=0.0)
    decision = classifier.route("Đường vào thôn sạt lở, cầu bị cuốn trôi")
    assert decision.predicted == "xay-dung"
    assert {a.department for a in decision.alternatives} == {d.code for d in departments}


def quality(classifier: DepartmentClassifier, items: list[dict]) -> tuple[float, float, float]:
    decisions = [(classifier.route(it["text"]), it["department"]) for it in items]
    top1 = sum(d.predicted == gold for d, gold in decisions) / len(decisions)
    auto = [(d, gold) for d, gold in decisions if d.auto_routed]
    precision = sum(d.department == gold for d, gold in auto) / max(len(auto), 1)
    return top1, len(auto) / len(decisions), precision


def test_labelled_sets_are_well_formed():
    dev, test = load("routing-dev.json"), load("routing-test.json")
    examples = json.loads(
        (
            Path(__file__).parents[2] / "feedback_api/departments/routing_data/examples.json"
        ).read_text(encoding="utf-8")
    )["examples"]
    seen = {fold(e["text"]) for e in examples}
    assert len(dev) >= 140 and len(test) >= 56
    for items, floor in ((dev, 10), (test, 4)):
        counts: dict[str, int] = {}
        for it in items:
            assert it["kind"] in {"complaint", "proposal", "question"}
            assert fold(it["text"]) not in seen
            counts[it["department"]] = counts.get(it["department"], 0) + 1
        assert len(counts) == 14 and min(counts.values()) >= floor


def test_quality_on_dev(classifier):
    # Measured (python -m benchmarks.routing.departments): top-1 0.887, coverage 0.667,
    # precision 0.955.
    top1, coverage, precision = quality(classifier, load("routing-dev.json"))
    assert top1 >= 0.85
    assert coverage >= 0.55
    assert precision >= 0.93


def test_quality_on_held_out_test(classifier):
    # Never tuned on. Measured: top-1 0.814, coverage 0.629, precision 0.977.
    top1, coverage, precision = quality(classifier, load("routing-test.json"))
    assert top1 >= 0.75
    assert coverage >= 0.5
    assert precision >= 0.9


def test_batched_routing_decides_like_one_by_one(classifier):
    texts = [
        "Đường lên bản bị sạt lở, xe không đi được",
        "cho e hoi lam the nao de dang ky thuong tru cho con",
        "Đề nghị tăng phụ cấp cho giáo viên cắm bản",
        "Tôi muốn tố cáo cán bộ xã nhũng nhiễu",
        "xin chào",
    ]
    cited = [(), ("cong-an",), (), (), ()]
    batch = classifier.route_many(texts, cited)
    for text, cites, decided in zip(texts, cited, batch, strict=True):
        alone = classifier.route(text, cited_departments=cites)
        assert (decided.department, decided.auto_routed) == (alone.department, alone.auto_routed)
        assert decided.confidence == pytest.approx(alone.confidence, abs=1e-3)
    assert classifier.route_many([]) == []


class _CountingModel:
    """The real sentence-transformers model, counting the texts it is asked to encode."""

    def __init__(self, model) -> None:
        self.model, self.texts = model, 0

    def encode(self, texts, **kwargs):
        self.texts += len(texts)
        return self.model.encode(texts, **kwargs)


def test_a_second_build_reads_the_vectors_the_first_kept(encoder, tmp_path):
    """Every API and worker process builds a classifier from the same examples and mandates:
    the first build keeps their vectors beside the model folder, later builds read them back
    (the same vectors, not an encoding) and encode only what changed."""
    from types import SimpleNamespace

    from feedback_api.departments.routing import load_examples, seed_profiles

    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "e5").symlink_to(encoder.model_dir.resolve())
    counting = _CountingModel(encoder.model)
    fake = SimpleNamespace(model=counting, model_dir=tmp_path / "models" / "e5", dim=encoder.dim,
                           encode_query=encoder.encode_query)
    profiles, examples = seed_profiles(), load_examples()[:40]
    first = DepartmentClassifier(profiles, encoder=fake, examples=examples)
    encoded = counting.texts
    assert encoded == 2 * len(examples) + len(first.mandate_dept)  # as written and folded
    assert len(list((tmp_path / "models" / "routing-vectors").glob("*.npy"))) == 2

    counting.texts = 0
    second = DepartmentClassifier(profiles, encoder=fake, examples=examples)
    assert counting.texts == 0
    assert (second.example_vecs == first.example_vecs).all()
    assert (second.mandate_vecs == first.mandate_vecs).all()
    text = "Trường mầm non ở xã thiếu giáo viên"
    assert second.route(text).predicted == first.route(text).predicted

    edited = [DepartmentProfile(p.code, p.name, p.mandate + ". Nước sạch nông thôn")
              if p.code == "xay-dung" else p for p in profiles]
    third = DepartmentClassifier(edited, encoder=fake, examples=examples)
    assert counting.texts == len(third.mandate_dept)  # the mandates again, not the examples
    assert (third.example_vecs == first.example_vecs).all()
