"""Votes on answers: stored once per idempotency key, counted per cited article."""

from __future__ import annotations

import hashlib
import hmac
from collections import Counter
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from feedback_api.answers.orm import AnswerVote
from feedback_api.answers.schemas import ArticleVotes, VoteCreate, VoteSummary
from feedback_api.db import utcnow
from feedback_api.errors import Conflict

KEY_REUSED = "Khóa idempotency_key này đã dùng cho một đánh giá khác."


def voter_hash(secret: bytes, channel: str, sender_id: str | None) -> str | None:
    """A keyed hash of who voted: counts a person once without keeping their id."""
    if not sender_id:
        return None
    message = f"{channel}:{sender_id}".encode()
    return hmac.new(secret, b"caunoi-vote-v1:" + message, hashlib.sha256).hexdigest()


def _citations(data: VoteCreate) -> list[dict]:
    return [{"law_id": c.law_id, "article_id": c.article_id} for c in data.citations]


def _same_vote(vote: AnswerVote, data: VoteCreate) -> bool:
    return (
        vote.question == data.question
        and vote.helpful == data.helpful
        and vote.channel == data.channel
        and vote.citations == _citations(data)
    )


def record_vote(
    session: Session, *, data: VoteCreate, secret: bytes, now: datetime | None = None
) -> tuple[AnswerVote, bool]:
    """Store a vote once per idempotency key: (vote, created). Same key, other vote: Conflict."""
    vote = AnswerVote(
        idempotency_key=data.idempotency_key,
        question=data.question,
        citations=_citations(data),
        helpful=data.helpful,
        channel=data.channel,
        voter=voter_hash(secret, data.channel, data.sender_id),
        created_at=now or utcnow(),
    )
    try:
        session.add(vote)
        session.flush()
        return vote, True
    except IntegrityError:
        session.rollback()
        existing = session.scalar(
            select(AnswerVote).where(AnswerVote.idempotency_key == data.idempotency_key)
        )
        if existing is None:  # not a key collision: nothing else is unique
            raise
        if not _same_vote(existing, data):
            raise Conflict(KEY_REUSED) from None
        return existing, False


def votes_of(session: Session, *, secret: bytes, channel: str, sender_id: str) -> list[AnswerVote]:
    """A citizen's votes, found through the same keyed hash they were stored under."""
    voter = voter_hash(secret, channel, sender_id)
    query = select(AnswerVote).where(AnswerVote.voter == voter).order_by(AnswerVote.id)
    return list(session.scalars(query))


def erase_voter(session: Session, *, secret: bytes, channel: str, sender_id: str) -> int:
    """Unlink a citizen's votes from them (as their items lose their sender id); the verdicts
    stay in the counts. Returns how many votes were unlinked."""
    votes = votes_of(session, secret=secret, channel=channel, sender_id=sender_id)
    for vote in votes:
        vote.voter = None
    session.flush()
    return len(votes)


def summary(session: Session, *, since: datetime | None = None, limit: int = 20) -> VoteSummary:
    """Totals, and the cited articles with the most votes (least helpful first)."""
    query = select(AnswerVote.helpful, AnswerVote.citations)
    if since is not None:
        query = query.where(AnswerVote.created_at >= since)
    good, bad = Counter(), Counter()
    total = helpful = 0
    for is_helpful, citations in session.execute(query):
        total += 1
        helpful += bool(is_helpful)
        for c in citations or []:
            key = (str(c.get("law_id", "")), str(c.get("article_id", "")))
            (good if is_helpful else bad)[key] += 1
    keys = sorted(set(good) | set(bad), key=lambda k: (-bad[k], -good[k], k))[:limit]
    return VoteSummary(
        total=total,
        helpful=helpful,
        not_helpful=total - helpful,
        articles=[
            ArticleVotes(law_id=k[0], article_id=k[1], helpful=good[k], not_helpful=bad[k])
            for k in keys
        ],
    )
