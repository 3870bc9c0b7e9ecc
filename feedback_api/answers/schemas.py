"""Request and response shapes of the votes endpoints."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from feedback_api.feedback.schemas import Channel, CitationRef, Short, nfc, trimmed


class VoteCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    question: trimmed(1000)
    citations: list[CitationRef] = Field(default_factory=list, max_length=10)
    helpful: bool
    channel: Channel
    sender_id: Short | None = None
    idempotency_key: Annotated[
        str, StringConstraints(min_length=8, max_length=200, pattern=r"^[A-Za-z0-9._:\-]+$")
    ]

    @field_validator("question")
    @classmethod
    def _nfc(cls, v: str) -> str:
        return nfc(v)


class VoteRecorded(BaseModel):
    id: int
    helpful: bool
    created_at: datetime


class ArticleVotes(BaseModel):
    law_id: str
    article_id: str
    helpful: int
    not_helpful: int


class VoteSummary(BaseModel):
    total: int
    helpful: int
    not_helpful: int
    articles: list[ArticleVotes]
