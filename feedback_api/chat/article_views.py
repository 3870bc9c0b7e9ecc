"""Read more: one whole article as a page (/van-ban/{law_id}/{article_id}) and as JSON.

``law_id`` is the law's name as the index keeps it ("Luật Cư trú 2020", "Luật Phòng, chống
bạo lực gia đình 2022") or a document id, which may even contain "/" (a decision number):
links quote it (%20, %2C, %2F), and the route takes everything up to the last segment.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException
from pydantic import BaseModel
from sqlalchemy.orm import Session

from feedback_api.chat.articles import Article, ArticleIndex
from feedback_api.chat.deps import ChatDep
from feedback_api.chat.pages import render
from feedback_api.departments import service as departments
from feedback_api.deps import DbSession, SearcherDep
from feedback_api.errors import NotFound
from feedback_api.http import error_responses
from feedback_api.ratelimit import ArticleLimit
from feedback_api.search import validity as corrections

router = APIRouter()
NOT_FOUND = "Không tìm thấy điều luật này. Có thể đường dẫn đã cũ hoặc văn bản đã được thay thế."
NO_SEARCH = "Chức năng tra cứu văn bản đang tạm ngừng. Vui lòng thử lại sau."


class ArticleSectionPublic(BaseModel):
    clauses: str | None
    text: str


class ArticlePublic(BaseModel):
    law_id: str
    law_title: str
    article_id: str
    article_title: str
    citation: str
    department: str | None
    department_name: str | None
    status: str  # today: in_force | expired | not_yet | draft
    status_label: str
    number: str | None
    effective: str | None
    validity_line: str | None  # a known gap or a replacement date, in one sentence
    source_url: str | None
    text: str
    sections: list[ArticleSectionPublic]


async def _article_index(searcher: SearcherDep, chat: ChatDep) -> ArticleIndex | None:
    return chat.articles.index(searcher)


Articles = Annotated[ArticleIndex | None, Depends(_article_index)]  # None: no index loaded


def _department_name(session: Session, code: str | None) -> str | None:
    if not code:
        return None
    try:
        return departments.get_department(session, code=code).name
    except NotFound:
        return None


def _corrected(session: Session, article: Article | None) -> Article | None:
    """The article with the officials' corrections of its law's validity (/inbox/admin/laws)."""
    if article is None:
        return None
    fixed = corrections.overrides(session, [article.law_id])
    return corrections.corrected(article, fixed.get(article.law_id))


def _public(session: Session, article: Article) -> ArticlePublic:
    return ArticlePublic(
        law_id=article.law_id, law_title=article.law_title, article_id=article.article_id,
        article_title=article.article_title, citation=article.citation,
        department=article.department,
        department_name=_department_name(session, article.department),
        status=article.validity.status, status_label=article.status_label,
        number=article.number, effective=article.effective,
        validity_line=article.validity.line,
        source_url=article.source_url, text=article.text,
        sections=[ArticleSectionPublic(clauses=s.clauses, text=s.text) for s in article.sections],
    )


@router.get("/api/v1/articles/{law_id:path}/{article_id}", response_model=ArticlePublic,
            responses=error_responses(404, 503), tags=["search"], dependencies=[ArticleLimit],
            summary="Toàn văn một điều luật (để đọc thêm)")
def article_json(
    law_id: str, article_id: str, index: Articles, session: DbSession
) -> ArticlePublic:
    if index is None:
        raise HTTPException(503, NO_SEARCH)
    article = _corrected(session, index.get(law_id, article_id))
    if article is None:
        raise HTTPException(404, NOT_FOUND)
    return _public(session, article)


@router.get("/van-ban/{law_id:path}/{article_id}", include_in_schema=False,
            dependencies=[ArticleLimit])
def article_page(law_id: str, article_id: str, index: Articles, session: DbSession):
    if index is None:
        return render("error.html", status=503, title="Tạm ngừng tra cứu", message=NO_SEARCH)
    article = _corrected(session, index.get(law_id, article_id))
    if article is None:
        return render("error.html", status=404, title="Không tìm thấy", message=NOT_FOUND)
    return render("article.html", article=article,
                  department_name=_department_name(session, article.department))
