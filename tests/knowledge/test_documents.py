"""Reading a folder of provincial documents into Document/Article objects."""

from __future__ import annotations

import json
import os
import unicodedata
from pathlib import Path

import docx
import pytest

from knowledge.documents import (
    Article,
    DocumentError,
    extract_text,
    load_document,
    load_folder,
    load_laws_json,
    split_articles,
)
from tests.conftest import default_laws

LAWS = default_laws()

DECISION = """ỦY BAN NHÂN DÂN TỈNH LÀO CAI
CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM
QUYẾT ĐỊNH
Căn cứ Luật Tổ chức chính quyền địa phương;
Chương I
QUY ĐỊNH CHUNG
Điều 1. Phạm vi điều chỉnh
Quy định này quy định mức hỗ trợ học sinh.
Điều 2: Đối tượng áp dụng
1. Học sinh trung học.
2. Cơ sở giáo dục.
CHƯƠNG II. MỨC HỖ TRỢ
Mục 1
HỖ TRỢ TIỀN ĂN
ĐIỀU 3. Mức hỗ trợ
a) 500.000 đồng/tháng.
Nơi nhận:
- Như Điều 3;
TM. ỦY BAN NHÂN DÂN
CHỦ TỊCH
"""


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def _make_docx(path: Path) -> Path:
    document = docx.Document()
    document.add_paragraph("Quyết định hỗ trợ nông dân")
    document.add_paragraph("Điều 1. Đối tượng")
    document.add_paragraph("Hộ nông dân trên địa bàn tỉnh.")
    table = document.add_table(rows=1, cols=2)
    table.cell(0, 0).text = "Mức hỗ trợ"
    table.cell(0, 1).text = "2 triệu đồng một hộ"
    document.add_paragraph("Điều 2. Hiệu lực")
    document.add_paragraph("Quyết định có hiệu lực từ năm 2025.")
    document.save(str(path))
    return path


def _make_pdf(path: Path, lines: list[str]) -> Path:
    """A one-page PDF whose font maps one byte per character through a ToUnicode CMap."""
    chars = sorted({ch for line in lines for ch in line})
    code = {ch: 0x21 + i for i, ch in enumerate(chars)}
    assert len(code) < 200
    cmap = "\n".join(f"<{code[ch]:02X}> <{ord(ch):04X}>" for ch in chars)
    to_unicode = (
        "/CIDInit /ProcSet findresource begin 12 dict begin begincmap\n"
        "/CMapName /Custom def /CMapType 2 def\n1 begincodespacerange <00> <FF> endcodespacerange\n"
        f"{len(chars)} beginbfchar\n{cmap}\nendbfchar\nendcmap end end"
    )
    shown = " T* ".join("<" + "".join(f"{code[c]:02X}" for c in line) + "> Tj" for line in lines)
    content = f"BT /F1 11 Tf 14 TL 50 780 Td {shown} ET"
    objects = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
        "/Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /ToUnicode 6 0 R >>",
        f"<< /Length {len(content)} >>\nstream\n{content}\nendstream",
        f"<< /Length {len(to_unicode)} >>\nstream\n{to_unicode}\nendstream",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n{body}\nendobj\n".encode("latin-1")
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += "".join(f"{offset:010d} 00000 n \n" for offset in offsets).encode()
    out += (
        f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    )
    path.write_bytes(bytes(out))
    return path


def _words(n: int, word: str = "chữ") -> str:
    return " ".join([word] * n)


# --------------------------------------------------------------------------- extract_text


def test_extract_markdown_and_text_keep_one_paragraph_per_line(tmp_path: Path) -> None:
    md = _write(tmp_path / "a.md", "# Tiêu đề\n\nĐoạn   một\ncó hai dòng.\n\n\nĐoạn hai.\n")
    assert extract_text(md) == "# Tiêu đề\nĐoạn một\ncó hai dòng.\nĐoạn hai."
    txt = tmp_path / "b.txt"
    txt.write_bytes("\ufeffDòng đầu\r\nDòng sau\r\n".encode())  # BOM and CRLF from Notepad
    assert extract_text(txt) == "Dòng đầu\nDòng sau"


def test_extract_html_drops_scripts_and_splits_blocks(tmp_path: Path) -> None:
    html = _write(
        tmp_path / "a.html",
        "<html><head><title>Cổng thông tin</title><style>p{color:red}</style></head>"
        "<body><nav>Trang chủ | Liên hệ</nav><h1>Thông báo</h1><p>Người dân\n   được <b>hỗ"
        " trợ</b>.</p><script>var x = 1;</script><ul><li>Mục một</li><li>Mục hai</li></ul>"
        "<div>Hết<br>Dòng mới</div></body></html>",
    )
    assert (
        extract_text(html) == "Thông báo\nNgười dân được hỗ trợ.\nMục một\nMục hai\nHết\nDòng mới"
    )


def test_extract_docx_reads_paragraphs_and_table_cells_in_order(tmp_path: Path) -> None:
    text = extract_text(_make_docx(tmp_path / "qd.docx"))
    assert text.split("\n") == [
        "Quyết định hỗ trợ nông dân",
        "Điều 1. Đối tượng",
        "Hộ nông dân trên địa bàn tỉnh.",
        "Mức hỗ trợ",
        "2 triệu đồng một hộ",
        "Điều 2. Hiệu lực",
        "Quyết định có hiệu lực từ năm 2025.",
    ]


def test_extract_pdf_reads_text_and_rejoins_wrapped_lines(tmp_path: Path) -> None:
    pdf = _make_pdf(
        tmp_path / "kh.pdf",
        [
            "Điều 1. Phạm vi điều chỉnh",
            "Quy định này áp dụng cho học sinh và sinh viên đang học tập tại các",
            "trường trên địa bàn tỉnh.",
            "Điều 2. Hiệu lực",
            "Có hiệu lực từ năm 2025.",
        ],
    )
    text = extract_text(pdf)
    assert text.split("\n") == [
        "Điều 1. Phạm vi điều chỉnh",
        "Quy định này áp dụng cho học sinh và sinh viên đang học tập tại các "
        "trường trên địa bàn tỉnh.",
        "Điều 2. Hiệu lực",
        "Có hiệu lực từ năm 2025.",
    ]
    assert [a.id for a in split_articles(text)] == ["1", "2"]


@pytest.mark.parametrize("name", ["x.docx", "x.pdf"])
def test_corrupt_file_raises_document_error_naming_the_file(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(b"this is not really a document")
    with pytest.raises(DocumentError, match=f"Không đọc được tệp {name}") as info:
        extract_text(path)
    assert info.value.path == path


def test_unsupported_non_utf8_and_empty_files_are_errors(tmp_path: Path) -> None:
    with pytest.raises(DocumentError, match=r"Không hỗ trợ định dạng.*a\.doc"):
        extract_text(_write(tmp_path / "a.doc", "Word 97"))
    latin = tmp_path / "b.txt"
    latin.write_bytes("Điều 1".encode("utf-16-le"))  # no BOM: not UTF-8
    with pytest.raises(DocumentError, match="UTF-8"):
        extract_text(latin)
    with pytest.raises(DocumentError, match="không có nội dung"):
        extract_text(_write(tmp_path / "c.md", "  \n\n"))


# --------------------------------------------------------------------------- split_articles


def test_split_articles_by_dieu_headings_ignoring_chapters_and_signature() -> None:
    articles = split_articles(DECISION)
    assert articles == [
        Article("1", "Phạm vi điều chỉnh", "Quy định này quy định mức hỗ trợ học sinh."),
        Article("2", "Đối tượng áp dụng", "1. Học sinh trung học.\n2. Cơ sở giáo dục."),
        Article("3", "Mức hỗ trợ", "a) 500.000 đồng/tháng."),
    ]
    joined = " ".join(a.title + " " + a.text for a in articles)
    for leak in ("Chương", "CHƯƠNG", "QUY ĐỊNH CHUNG", "Mục", "TIỀN ĂN", "Nơi nhận", "CHỦ TỊCH"):
        assert leak not in joined


def test_split_articles_markdown_headings_and_restarted_numbering() -> None:
    text = (
        "# Quyết định\n## Điều 1. Ban hành kèm theo Quyết định này Quy định hỗ trợ.\n"
        "## **Điều 2.** Hiệu lực\nTừ năm 2025.\n\n# QUY ĐỊNH\n## Chương I\n"
        "### Điều 1. Phạm vi\nHỗ trợ học sinh.\n### Điều 2. Đối tượng\nHọc sinh."
    )
    articles = split_articles(text)
    assert [a.id for a in articles] == ["1", "2", "p2-1", "p2-2"]
    # A sentence after "Điều 1." is body text, not a title.
    assert articles[0].text == "Ban hành kèm theo Quyết định này Quy định hỗ trợ."
    assert articles[0].title.startswith("Ban hành kèm theo")
    assert articles[1] == Article("2", "Hiệu lực", "Từ năm 2025.")
    assert articles[2] == Article("p2-1", "Phạm vi", "Hỗ trợ học sinh.")


def test_inline_dieu_references_are_not_headings() -> None:
    text = "Điều 1. Sửa đổi\nĐiều 5 của Luật này được sửa đổi như sau:\ntheo Điều 7. Khác"
    articles = split_articles(text)
    assert [a.id for a in articles] == ["1"]
    assert articles[0].text == "Điều 5 của Luật này được sửa đổi như sau:\ntheo Điều 7. Khác"


def test_no_headings_fall_back_to_chunks_of_paragraphs() -> None:
    sentence = "Tỉnh hỗ trợ người dân chuyển đổi cây trồng phù hợp với khí hậu vùng núi. "
    assert len(sentence.split()) == 16
    paragraphs = [(sentence * 7).strip() for _ in range(8)]  # 8 x 112 words
    articles = split_articles("\n\n".join(paragraphs))
    sizes = [len(a.text.split()) for a in articles]
    assert [a.id for a in articles] == ["1", "2", "3", "4"]
    assert sizes == [224, 224, 224, 224]
    assert all(a.text.count("\n") == 1 for a in articles)  # two paragraphs each
    assert (
        articles[0].title == "Tỉnh hỗ trợ người dân chuyển đổi cây trồng phù hợp với…"
    )  # 12 words


def test_chunks_stay_near_the_word_budget() -> None:
    sizes = [len(a.text.split()) for a in split_articles("\n".join([_words(128) + "."] * 5))]
    assert sizes == [256, 256, 128]  # a chunk under 150 words may grow to 300
    sizes = [len(a.text.split()) for a in split_articles("\n".join([_words(60) + "."] * 9))]
    assert sizes == [240, 240, 60]
    tail = [len(a.text.split()) for a in split_articles(_words(240) + ".\n" + _words(30) + ".")]
    assert tail == [270]  # a tail under 50 words joins the chunk before it


def test_a_very_long_paragraph_is_cut_at_sentence_ends() -> None:
    sentence = _words(29) + " hết."
    articles = split_articles(" ".join([sentence] * 30))  # 900 words, one paragraph
    assert len(articles) == 4
    assert all(len(a.text.split()) <= 250 for a in articles)
    assert all(a.text.endswith("hết.") for a in articles)


def test_no_dieu_headings_split_by_markdown_and_short_headings() -> None:
    body = "Người dân được hỗ trợ kinh phí theo quy định của tỉnh."
    text = f"# Kế hoạch\n## I. Mục đích\n{body}\nII. NỘI DUNG\n{body}\nĐối tượng hưởng\n{body}"
    articles = split_articles(text)
    assert [(a.id, a.title, a.text) for a in articles] == [
        ("1", "I. Mục đích", body),
        ("2", "II. NỘI DUNG", body),
        ("3", "Đối tượng hưởng", body),
    ]


# --------------------------------------------------------------------------- metadata, folders


def test_sidecar_metadata_overrides_folder_metadata(tmp_path: Path) -> None:
    _write(tmp_path / "qd.md", DECISION)
    _write(tmp_path / "tb.txt", "Thông báo lịch tiếp dân.")
    folder_meta = {
        "qd.md": {
            "title": "Quyết định hỗ trợ học sinh",
            "number": "12/2024/QĐ-UBND",
            "status": "còn hiệu lực",
            "issued": "15/03/2024",
            "department": "Giáo dục",
        },
        "tb.txt": {"status": "expired", "source_url": "https://laocai.gov.vn/tb"},
    }
    _write(tmp_path / "metadata.json", json.dumps(folder_meta, ensure_ascii=False))
    sidecar = {"status": "dự thảo", "effective": "2025-01-01", "id": "qd-12"}
    _write(tmp_path / "qd.md.meta.json", json.dumps(sidecar, ensure_ascii=False))
    docs, errors = load_folder(tmp_path)
    assert errors == []
    qd, tb = docs
    assert (qd.doc_id, qd.title, qd.number) == (
        "qd-12",
        "Quyết định hỗ trợ học sinh",
        "12/2024/QĐ-UBND",
    )
    assert (qd.status, qd.issued, qd.effective) == ("draft", "2024-03-15", "2025-01-01")
    assert qd.department == "giao-duc"
    assert (tb.doc_id, tb.status, tb.source_url) == ("tb", "expired", "https://laocai.gov.vn/tb")
    assert tb.title == "Thông báo lịch tiếp dân."  # first line without a metadata title
    assert tb.issued is None and tb.number is None


def test_nested_folders_hidden_files_and_default_status(tmp_path: Path) -> None:
    _write(tmp_path / "so-tu-phap" / "du-thao-nghi-quyet.md", "Nghị quyết về phí\nMức phí mới.")
    _write(tmp_path / "so-tu-phap" / "tb.md", "DỰ THẢO\nThông báo về phí\nNội dung.")
    _write(tmp_path / "a.txt", "Văn bản a.")
    _write(tmp_path / ".git" / "x.txt", "bí mật")
    _write(tmp_path / ".hidden.txt", "ẩn")
    _write(tmp_path / "~$a.docx", "Word lock file")
    _write(
        tmp_path / "metadata.json",
        json.dumps({"_comment": "ghi chú", "so-tu-phap/tb.md": {"department": "tu-phap"}}),
    )
    docs, errors = load_folder(tmp_path)
    assert errors == []
    assert [d.doc_id for d in docs] == ["a", "du-thao-nghi-quyet", "tb"]
    assert [d.status for d in docs] == ["in_force", "draft", "draft"]
    assert docs[2].department == "tu-phap"


@pytest.mark.parametrize(
    ("meta", "message"),
    [
        ({"issued": "2024-13-01"}, "ngày “2024-13-01” ở trường “issued” không hợp lệ"),
        ({"effective": "tháng 3"}, "“effective” không hợp lệ"),
        ({"status": "tạm dừng"}, "trạng thái “tạm dừng” không hợp lệ"),
        ({"stauts": "draft"}, "không có trường stauts"),
        ({"number": 12}, "“number” phải là chuỗi"),
        ({"source_url": "laocai.gov.vn"}, "http"),
    ],
)
def test_bad_metadata_is_a_clear_error(tmp_path: Path, meta: dict, message: str) -> None:
    path = _write(tmp_path / "qd.md", DECISION)
    with pytest.raises(DocumentError, match=message) as info:
        load_document(path, meta)
    assert "qd.md" in str(info.value)


def test_errors_are_collected_per_file_and_other_files_still_load(tmp_path: Path) -> None:
    _write(tmp_path / "a.md", DECISION)
    (tmp_path / "b.docx").write_bytes(b"PK\x03\x04 broken zip")
    _make_docx(tmp_path / "c.docx")
    _write(tmp_path / "d.doc", "old Word")
    _write(tmp_path / "e.md", "Văn bản e.")
    _write(tmp_path / "e.md.meta.json", '{"status": "sai"}')
    _write(tmp_path / "f.md.meta.json", '{"status": "draft"}')  # no f.md
    _write(tmp_path / "metadata.json", '{"g.md": {"status": "draft"}}')  # no g.md
    docs, errors = load_folder(tmp_path)
    assert [d.doc_id for d in docs] == ["a", "c"]
    assert [d.articles[0].title for d in docs] == ["Phạm vi điều chỉnh", "Đối tượng"]
    assert [e.path.name for e in errors] == ["b.docx", "d.doc", "e.md", "g.md", "f.md.meta.json"]
    assert all(isinstance(e, DocumentError) for e in errors)
    assert "b.docx" in str(errors[0]) and "Không đọc được" in str(errors[0])


def test_broken_folder_metadata_blocks_its_files(tmp_path: Path) -> None:
    _write(tmp_path / "a.md", DECISION)
    _write(tmp_path / "metadata.json", "{not json")
    docs, errors = load_folder(tmp_path)
    assert docs == []
    assert [e.path.name for e in errors] == ["a.md", "metadata.json"]


def test_duplicate_doc_ids_are_reported(tmp_path: Path) -> None:
    _write(tmp_path / "a" / "qd.md", DECISION)
    _write(tmp_path / "b" / "qd.txt", DECISION)
    docs, errors = load_folder(tmp_path)
    assert [d.doc_id for d in docs] == ["qd"]
    assert len(errors) == 1 and "trùng" in str(errors[0]) and "b/qd.txt" in str(errors[0])


def test_nfd_input_becomes_nfc(tmp_path: Path) -> None:
    nfd = unicodedata.normalize("NFD", DECISION)
    assert nfd != DECISION
    path = _write(tmp_path / unicodedata.normalize("NFD", "quyết-định.md"), nfd)
    meta = {"title": unicodedata.normalize("NFD", "Quyết định hỗ trợ"), "status": "dự thảo"}
    doc = load_document(path, {k: v for k, v in meta.items()})
    assert doc.doc_id == "quyết-định"
    assert doc.title == "Quyết định hỗ trợ"
    assert doc.status == "draft"
    assert doc.articles == tuple(split_articles(DECISION))
    for article in doc.articles:
        assert unicodedata.is_normalized("NFC", article.title + article.text)


def test_content_hash_tracks_text_and_metadata_only(tmp_path: Path) -> None:
    path = _write(tmp_path / "qd.md", DECISION)
    sidecar = tmp_path / "qd.md.meta.json"
    _write(sidecar, '{"status": "draft"}')

    def current() -> str:
        docs, errors = load_folder(tmp_path)
        assert errors == []
        return docs[0].content_hash

    first = current()
    assert current() == first
    os.utime(path, (1_000_000, 1_000_000))  # touching the file changes nothing
    _write(sidecar, '{ "status" :  "draft" }')  # nor does reformatting the JSON
    assert current() == first
    _write(sidecar, '{"status": "in_force"}')
    after_meta = current()
    assert after_meta != first
    _write(path, DECISION.replace("500.000", "600.000"))
    assert current() not in {first, after_meta}


# --------------------------------------------------------------------------- laws.json


@pytest.mark.skipif(LAWS is None, reason="shared/data/legal/laws.json not present")
def test_load_laws_json_reads_all_laws_and_articles() -> None:
    laws = load_laws_json(LAWS, department_of={"Luật Cư trú 2020": "cong-an"}.get)
    assert len(laws) == 21
    assert sum(len(law.articles) for law in laws) == 2593
    residence = next(law for law in laws if law.doc_id == "Luật Cư trú 2020")
    assert residence.title == "Luật Cư trú 2020"
    assert (residence.status, residence.department) == ("in_force", "cong-an")
    assert residence.articles[0].id == "1"
    assert residence.articles[0].title == "Phạm vi điều chỉnh"
    assert not residence.articles[0].text.startswith("Phạm vi điều chỉnh")
    assert all(law.department is None for law in laws if law is not residence)
    constitution = next(law for law in laws if law.doc_id == "Hiến pháp 2013")
    assert constitution.articles[1].title == ""  # the Constitution's articles have no titles
    assert constitution.articles[1].text.startswith("1. Nhà nước Cộng hòa")
    assert len({law.content_hash for law in laws}) == 21


def test_load_laws_json_rejects_a_wrong_shape(tmp_path: Path) -> None:
    path = _write(tmp_path / "laws.json", '{"id": "Luật"}')
    with pytest.raises(DocumentError, match="laws.json"):
        load_laws_json(path)
    _write(path, '[{"id": "Luật A", "articles": [{"id": "1", "text": "Tên\\n\\nNội dung."}]}]')
    (law,) = load_laws_json(path)
    assert law.articles == (Article("1", "Tên", "Nội dung."),)
