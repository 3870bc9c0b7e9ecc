"""GET /api/v1/search: knowledge hits with citations and the ``confident`` flag."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel

from feedback_api.deps import DbSession, SearcherDep, SettingsDep
from feedback_api.http import error_responses
from feedback_api.ratelimit import SearchLimit
from feedback_api.search import validity as corrections
from knowledge import validity

router = APIRouter(prefix="/api/v1", tags=["search"])


class ValidityPublic(BaseModel):
    status: str  # in_force | expired | not_yet | draft, today
    label: str  # "Còn hiệu lực" …
    line: str | None  # one short sentence for the citizen (a known gap, a replacement date)


class HitPublic(BaseModel):
    law_id: str
    law_title: str
    article_id: str
    article_title: str
    clauses: str | None
    citation: str
    text: str
    department: str | None
    score: float
    number: str | None  # the document's number, "31/2024/QH15"
    effective: str | None  # ISO date
    source: str | None  # "số 31/2024/QH15, hiệu lực từ 01/08/2024", for a citation
    validity: ValidityPublic


class SearchPublic(BaseModel):
    query: str
    interpreted: str
    confident: bool
    confidence: float
    hits: list[HitPublic]


@router.get("/search", response_model=SearchPublic, responses=error_responses(503),
            summary="Tìm điều luật trả lời câu hỏi", dependencies=[SearchLimit])
def search(
    settings: SettingsDep,
    searcher: SearcherDep,
    session: DbSession,
    # The schema says what the checks below enforce: some non-space text, at most the default
    # Settings.max_query_chars (a deployment may lower it; the check below still applies).
    q: Annotated[str, Query(description="Câu hỏi của người dân", max_length=1000, pattern=r"\S")],
    k: Annotated[int, Query(ge=1, le=20, description="Số kết quả")] = 5,
) -> SearchPublic:
    text = q.strip()
    if not text:
        raise HTTPException(422, "Câu hỏi đang trống. Hãy nhập nội dung cần hỏi.")
    if len(text) > settings.max_query_chars:
        raise HTTPException(422, f"Câu hỏi quá dài (tối đa {settings.max_query_chars} ký tự).")
    if searcher is None:  # started with CAUNOI_LOAD_SEARCH=0, or the index is not built yet
        raise HTTPException(
            503, "Chức năng tra cứu chính sách đang tạm ngừng. Vui lòng thử lại sau."
        )
    result = searcher.search(text, k)
    fixed = corrections.overrides(session, (h.passage.doc_id for h in result.hits))
    passages = [corrections.corrected(h.passage, fixed.get(h.passage.doc_id))
                for h in result.hits]
    # an official may have declared the first hit's law expired (or in force again) since the
    # index was built: the confident flag follows what the citizen will be told
    confident = (result.confidence >= searcher.calibration.threshold
                 and bool(passages) and corrections.usable(passages[0]))
    return SearchPublic(
        query=result.query.original,
        interpreted=result.query.expanded,
        confident=confident,
        confidence=round(result.confidence, 3),
        hits=[
            HitPublic(
                law_id=p.doc_id,
                law_title=p.doc_title,
                article_id=p.article_id,
                article_title=p.article_title,
                clauses=p.clauses,
                citation=p.citation,
                text=p.text,
                department=p.department,
                score=round(h.score, 4),
                number=p.number,
                effective=p.effective,
                source=validity.source_label(p.number, p.effective),
                validity=ValidityPublic(**validity.of(p).to_dict()),
            )
            for h, p in zip(result.hits, passages, strict=True)
        ],
    )
