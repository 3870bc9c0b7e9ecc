"""Request and response shapes of the feedback API, named by purpose."""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
)

from feedback_api.feedback import codes

Kind = Literal["complaint", "proposal", "question"]
Channel = Literal["zalo", "zalo_miniapp", "messenger", "web", "api"]
Status = Literal["new", "routed", "in_progress", "answered", "closed", "rejected", "merged"]
Priority = Literal["low", "normal", "high", "urgent"]
URL = r"^https?://[^\s<>\"]+$"  # attachments: http(s) links only (checked by the pattern)
PHONE = re.compile(r"^\+?[0-9][0-9 .-]{7,18}[0-9]$")
# Blank characters as every reader of our schema counts them: Python's str.isspace, the Rust
# regex engine pydantic validates with, and ECMAScript's \s that JSON Schema patterns mean. They
# disagree at the edges (U+001C-1F, U+0085, U+FEFF), so the union is spelt out and used both in
# the declared pattern and for trimming: "has a visible character" means the same everywhere.
BLANK = ("\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u180e"
         + "".join(chr(c) for c in range(0x2000, 0x200B)) + "\u2028\u2029\u202f\u205f\u3000\ufeff")
VISIBLE = "[^" + "".join(f"\\u{ord(c):04x}" for c in BLANK) + "]"


def _trim(value: str) -> str:
    return value.strip(BLANK)


def trimmed(max_length: int, *, required: bool = True) -> type[str]:
    """Text whose declared limits hold for what the client sends (the schema's maxLength
    counts the raw string), then trimmed; a required one must hold a visible character."""
    limits = {"min_length": 1, "pattern": VISIBLE} if required else {}
    return Annotated[str, StringConstraints(max_length=max_length, **limits), AfterValidator(_trim)]


Short = trimmed(200, required=False)


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


class Contact(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Short | None = None
    # The schema states what is enforced: a plausible phone number (or nothing), and consent.
    phone: Annotated[str, StringConstraints(
        max_length=30, pattern=r"^ *(\+?[0-9][0-9 .-]{7,18}[0-9])? *$"
    ), AfterValidator(str.strip)] | None = None
    consent: bool = Field(json_schema_extra={"const": True})

    @field_validator("phone")
    @classmethod
    def _phone(cls, v: str | None) -> str | None:
        if v and not PHONE.match(v):
            raise ValueError("số điện thoại không hợp lệ")
        return v or None


class CitationRef(BaseModel):
    model_config = ConfigDict(extra="ignore")
    law_id: trimmed(300)
    article_id: trimmed(50)
    # shown to the citizen only as "có thể liên quan" (no confident answer): kept for the
    # official, never a routing hint
    related: bool = False


class FeedbackCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Kind
    text: trimmed(5000)
    channel: Channel
    sender_id: Short | None = None
    location: Short | None = None
    contact: Contact | None = None
    citations: list[CitationRef] = Field(default_factory=list, max_length=10)
    attachments: list[Annotated[str, StringConstraints(max_length=1000, pattern=URL)]] = Field(
        default_factory=list, max_length=10
    )
    idempotency_key: Annotated[
        str, StringConstraints(min_length=8, max_length=200, pattern=r"^[A-Za-z0-9._:\-]+$")
    ]
    # Service tokens only: a code the assistant reserved before submitting (so the citizen has
    # it even when the API is down); PA-/KN-/CH- as the kind, then 8 symbols as codes.new_code.
    tracking_code: Annotated[str, StringConstraints(pattern=codes.RESERVED)] | None = None

    @field_validator("text", "location", "sender_id")
    @classmethod
    def _nfc(cls, v: str | None) -> str | None:
        return nfc(v) if v is not None else None


class FormalProcedure(BaseModel):
    title: str
    text: str


class FeedbackCreated(BaseModel):
    tracking_code: str
    department: str | None
    department_name: str | None
    status: Status
    due_at: datetime
    routing: Literal["done", "pending"]
    formal_complaint: bool
    formal_procedure: FormalProcedure | None = None


class EventPublic(BaseModel):
    at: datetime
    actor: str
    action: str
    from_value: str | None
    to_value: str | None
    reason: str | None
    public: bool


class FeedbackDetail(BaseModel):
    tracking_code: str
    kind: Kind
    text: str
    channel: Channel
    sender_id: str | None
    location: str | None
    citations: list[dict]
    attachments: list[str]
    department: str | None
    status: Status
    priority: Priority
    formal_complaint: bool
    needs_routing: bool
    routing_confidence: float | None
    routing_alternatives: list[dict]
    due_at: datetime
    overdue: bool
    escalated_at: datetime | None
    contact: dict | None
    public_reply: str | None
    merged_into: str | None
    created_at: datetime
    updated_at: datetime
    events: list[EventPublic]


class FeedbackStatusPublic(BaseModel):
    """What anyone with the tracking code may see: no personal data."""

    tracking_code: str
    kind: Kind
    status: Status
    status_label: str
    department: str | None
    department_name: str | None
    created_at: datetime
    due_at: datetime
    public_reply: str | None
    merged_into: str | None


class FeedbackUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: Status | None = None
    department: Annotated[str, StringConstraints(max_length=40)] | None = None
    priority: Priority | None = None
    reason: trimmed(1000, required=False) | None = None


class TextBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: trimmed(5000)

    @field_validator("text")
    @classmethod
    def _nfc(cls, v: str) -> str:
        return nfc(v)


class MergeBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    into: Annotated[str, StringConstraints(max_length=16)]
    reason: Annotated[str, StringConstraints(max_length=1000)] | None = None


class FeedbackList(BaseModel):
    total: int
    counts: dict[str, int]
    items: list[FeedbackStatusPublic | dict]

