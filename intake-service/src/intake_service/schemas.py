"""Request and response bodies of the intake API."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    HttpUrl,
    field_validator,
    model_validator,
)

LANGUAGE_TAG = r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$"


class CustomerIn(BaseModel):
    """The customer as the submitting system knows them; one contact point is required."""

    model_config = ConfigDict(str_strip_whitespace=True)

    name: str | None = Field(default=None, max_length=300, examples=["Ana Pop"])
    email: EmailStr | None = Field(default=None, examples=["ana@example.com"])
    phone: str | None = Field(default=None, max_length=40, examples=["+40 721 000 000"])
    language: str | None = Field(
        default=None, pattern=LANGUAGE_TAG, description="BCP 47 tag", examples=["ro"]
    )

    @model_validator(mode="after")
    def _one_contact_point(self) -> CustomerIn:
        if not self.email and not self.phone:
            raise ValueError("an e-mail address or a phone number is required")
        return self


class ProductIn(BaseModel):
    """The product the complaint concerns."""

    sku: str | None = Field(default=None, max_length=100, examples=["CH-20"])
    name: str | None = Field(default=None, max_length=300, examples=["Charger 20W"])


class ComplaintCreate(BaseModel):
    """A complaint submitted by another system. Only ``body`` and one contact point are required."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "customer": {
                        "name": "Ana Pop",
                        "email": "ana@example.com",
                        "phone": "+40 721 000 000",
                        "language": "ro",
                    },
                    "subject": "Broken charger",
                    "body": "Încărcătorul s-a oprit după două zile. Vreau unul nou.",
                    "category": "product_defect",
                    "product": {"sku": "CH-20", "name": "Charger 20W"},
                    "supplier": "Voltix",
                    "order_ref": "SO-1042",
                }
            ]
        }
    )

    customer: CustomerIn
    subject: str | None = Field(default=None, max_length=500)
    body: str = Field(max_length=100_000, description="The complaint in the customer's own words.")
    category: str | None = Field(default=None, max_length=100, examples=["product_defect"])
    product: ProductIn | None = None
    supplier: str | None = Field(default=None, max_length=300)
    order_ref: str | None = Field(default=None, max_length=100)
    external_id: str | None = Field(
        default=None,
        max_length=300,
        description="The submitting system's own id for this complaint; a resubmission with "
        "the same id returns the first complaint.",
    )

    @field_validator("body")
    @classmethod
    def _body_has_text(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must contain text, not only whitespace")
        return value.strip()


class ComplaintAccepted(BaseModel):
    """The answer to a submission: 202 when new, 200 when it repeats an earlier one."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "complaint_id": "0e2218b9-8e5e-48c2-a7b8-e10e1bd730d5",
                    "reference": "RDR-2026-000123",
                    "status": "accepted",
                    "received_at": "2026-11-23T19:57:20.007687Z",
                }
            ]
        }
    )

    complaint_id: uuid.UUID
    reference: str = Field(examples=["RDR-2026-000123"])
    status: Literal["accepted", "duplicate", "attached"] = Field(
        description="`attached`: an e-mail answering a registered complaint, added to it as "
        "the customer's message (no new complaint)."
    )
    received_at: datetime


class ComplaintRead(BaseModel):
    """A normalised complaint as intake registered it."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "0e2218b9-8e5e-48c2-a7b8-e10e1bd730d5",
                    "reference": "RDR-2026-000123",
                    "channel": "api",
                    "channel_message_id": None,
                    "received_at": "2026-11-23T19:57:20.007687Z",
                    "customer_key": "749209eb-ffbc-5f5f-94bf-11f8e08b94c4",
                    "customer": {
                        "name": "Ana Pop",
                        "email": "ana@example.com",
                        "phone": "+40721000000",
                        "language": "ro",
                    },
                    "subject": "Broken charger",
                    "body": "Încărcătorul s-a oprit după două zile.",
                    "language": "ro",
                    "category": "product_defect",
                    "product": {"sku": "CH-20", "name": "Charger 20W"},
                    "supplier": "Voltix",
                    "order_ref": "SO-1042",
                }
            ]
        }
    )

    id: uuid.UUID
    reference: str
    channel: str
    channel_message_id: str | None
    received_at: datetime
    customer_key: str
    customer: dict
    subject: str | None
    body: str
    language: str | None
    category: str | None
    product: dict | None
    supplier: str | None
    order_ref: str | None
    priority_hint: str | None = None
    reputation_sensitive: bool = False
    context: dict | None = None
    classification: dict | None = None


class CustomerMessageRead(BaseModel):
    """A customer's later message about a registered complaint (a reply by e-mail)."""

    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": "5b0e6f1c-2d3a-4b5c-8d9e-0f1a2b3c4d5e",
                    "complaint_id": "0e2218b9-8e5e-48c2-a7b8-e10e1bd730d5",
                    "channel": "email",
                    "channel_message_id": "<reply-1@example.com>",
                    "received_at": "2026-11-24T08:12:00Z",
                    "sender": {"name": "Ana Pop", "email": "ana@example.com"},
                    "subject": "Re: Am primit reclamația dumneavoastră [RDR-2026-000123]",
                    "body": "Numărul comenzii este SO-1042.",
                    "language": "ro",
                    "matched_by": "reference",
                    "context": {"in_reply_to": "<ack-1@redress.example>"},
                }
            ]
        },
    )

    id: uuid.UUID
    complaint_id: uuid.UUID
    channel: str
    channel_message_id: str | None
    received_at: datetime
    sender: dict
    subject: str | None
    body: str = Field(description="The new words, quoted history removed.")
    language: str | None
    matched_by: Literal["reference", "in_reply_to", "references"]
    context: dict | None = None


# Channels --------------------------------------------------------------------------------


class ComplaintDetails(BaseModel):
    """What the submitter already knows about the complaint; each field wins over what
    intake would pull from the text."""

    subject: str | None = Field(default=None, max_length=500)
    category: str | None = Field(default=None, max_length=100, examples=["outage"])
    product: ProductIn | None = None
    supplier: str | None = Field(default=None, max_length=300)
    order_ref: str | None = Field(default=None, max_length=100)


class CallerIn(BaseModel):
    """What the agent learnt about the caller beyond the number."""

    model_config = ConfigDict(str_strip_whitespace=True)

    name: str | None = Field(default=None, max_length=300, examples=["Jānis Bērziņš"])
    email: EmailStr | None = Field(default=None, examples=["janis@example.lv"])
    language: str | None = Field(default=None, pattern=LANGUAGE_TAG, examples=["lv"])


class PhoneCallCreate(ComplaintDetails):
    """A phone call record from the contact centre. Registered at once: the complaint does
    not wait for a written confirmation. ``transcript`` and/or ``agent_notes`` is required."""

    model_config = ConfigDict(
        str_strip_whitespace=True,
        json_schema_extra={
            "examples": [
                {
                    "call_id": "call-2026-11-23-000481",
                    "caller_number": "+371 2000 0000",
                    "called_line": "+371 6700 0000",
                    "started_at": "2026-11-23T08:14:00Z",
                    "duration_seconds": 312,
                    "agent": "agent-17",
                    "ivr_selections": ["2", "internet", "fault"],
                    "transcript": "Mans internets nedarbojas jau trīs dienas. "
                    "Lūdzu, salabojiet to!",
                    "agent_notes": "Customer in Riga, outage since Friday.",
                    "recording_url": "https://recordings.example.com/call-000481.ogg",
                    "caller": {"name": "Jānis Bērziņš", "language": "lv"},
                }
            ]
        },
    )

    call_id: str = Field(min_length=1, max_length=300, description="The telephony system's id.")
    caller_number: str = Field(
        min_length=1, max_length=40, description="Caller's number; stored in E.164."
    )
    default_region: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z]{2}$",
        description="ISO 3166 country for numbers written without the international prefix.",
        examples=["LV"],
    )
    called_line: str | None = Field(default=None, max_length=40)
    started_at: datetime
    duration_seconds: int | None = Field(default=None, ge=0, le=7 * 24 * 3600)
    agent: str | None = Field(default=None, max_length=300)
    ivr_selections: list[str] = Field(default_factory=list, max_length=50)
    transcript: str | None = Field(default=None, max_length=100_000)
    agent_notes: str | None = Field(default=None, max_length=20_000)
    recording_url: HttpUrl | None = None
    caller: CallerIn | None = None

    @model_validator(mode="after")
    def _has_words(self) -> PhoneCallCreate:
        if not (self.transcript or "").strip() and not (self.agent_notes or "").strip():
            raise ValueError("a transcript or the agent's notes are required")
        return self


class ChatParticipant(BaseModel):
    """One party of a chat; the customer needs an e-mail address or a phone number."""

    model_config = ConfigDict(str_strip_whitespace=True)

    id: str = Field(min_length=1, max_length=200, examples=["c1"])
    role: Literal["customer", "agent", "bot"]
    name: str | None = Field(default=None, max_length=300)
    email: EmailStr | None = None
    phone: str | None = Field(default=None, max_length=40)
    language: str | None = Field(default=None, pattern=LANGUAGE_TAG)


class ChatMessageIn(BaseModel):
    """One line of the conversation."""

    participant_id: str = Field(min_length=1, max_length=200)
    sent_at: datetime
    text: str = Field(max_length=20_000)


class ChatCreate(ComplaintDetails):
    """A chat conversation. The customer's messages make the complaint text; the agent's and
    the bot's are kept as context."""

    model_config = ConfigDict(
        str_strip_whitespace=True,
        json_schema_extra={
            "examples": [
                {
                    "chat_id": "chat-88d1c2",
                    "participants": [
                        {
                            "id": "c1",
                            "role": "customer",
                            "name": "Maja Novak",
                            "email": "maja@example.si",
                            "language": "sl",
                        },
                        {"id": "a1", "role": "agent", "name": "Luka"},
                    ],
                    "messages": [
                        {
                            "participant_id": "c1",
                            "sent_at": "2026-11-23T09:00:00Z",
                            "text": "Paket še vedno ni prispel.",
                        },
                        {
                            "participant_id": "a1",
                            "sent_at": "2026-11-23T09:00:30Z",
                            "text": "Žal mi je, preverim pošiljko.",
                        },
                        {
                            "participant_id": "c1",
                            "sent_at": "2026-11-23T09:01:10Z",
                            "text": "Naročila sem ga pred dvema tednoma, naročilo SO-2291.",
                        },
                    ],
                }
            ]
        },
    )

    chat_id: str = Field(min_length=1, max_length=300)
    participants: list[ChatParticipant] = Field(min_length=1, max_length=50)
    messages: list[ChatMessageIn] = Field(min_length=1, max_length=5_000)

    @model_validator(mode="after")
    def _consistent(self) -> ChatCreate:
        ids = [p.id for p in self.participants]
        if len(set(ids)) != len(ids):
            raise ValueError("participant ids must be unique")
        unknown = {m.participant_id for m in self.messages} - set(ids)
        if unknown:
            raise ValueError(f"messages from unknown participants: {sorted(unknown)}")
        customers = [p for p in self.participants if p.role == "customer"]
        if len(customers) != 1:
            raise ValueError("exactly one participant must have the role 'customer'")
        if not customers[0].email and not customers[0].phone:
            raise ValueError("the customer needs an e-mail address or a phone number")
        said = [m for m in self.messages if m.participant_id == customers[0].id and m.text.strip()]
        if not said:
            raise ValueError("the customer wrote nothing")
        return self


SocialPlatform = Literal[
    "facebook", "instagram", "x", "linkedin", "tiktok", "youtube", "reddit", "trustpilot"
]


class SocialAuthor(BaseModel):
    """The author of a post as the platform shows them."""

    model_config = ConfigDict(str_strip_whitespace=True)

    handle: str = Field(min_length=1, max_length=200, examples=["@ana_pop"])
    display_name: str | None = Field(default=None, max_length=300, examples=["Ana Pop"])
    email: EmailStr | None = Field(default=None, description="When the customer gave it.")
    phone: str | None = Field(default=None, max_length=40)
    language: str | None = Field(default=None, pattern=LANGUAGE_TAG)


class SocialPostCreate(ComplaintDetails):
    """A social-media post or private message. Public posts are reputation-sensitive."""

    model_config = ConfigDict(
        str_strip_whitespace=True,
        json_schema_extra={
            "examples": [
                {
                    "platform": "x",
                    "post_id": "1860000000000000001",
                    "author": {"handle": "@ana_pop", "display_name": "Ana Pop"},
                    "visibility": "public",
                    "text": "@Voltix încărcătorul CH-20 s-a stricat după două zile. "
                    "Nimeni nu răspunde!",
                    "url": "https://x.com/ana_pop/status/1860000000000000001",
                    "in_reply_to": None,
                    "posted_at": "2026-11-23T10:00:00Z",
                }
            ]
        },
    )

    platform: SocialPlatform
    post_id: str = Field(min_length=1, max_length=300)
    author: SocialAuthor
    visibility: Literal["public", "private"]
    text: str = Field(max_length=100_000)
    url: HttpUrl | None = None
    in_reply_to: str | None = Field(default=None, max_length=300)
    posted_at: datetime | None = None

    @field_validator("text")
    @classmethod
    def _text_has_words(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must contain text, not only whitespace")
        return value.strip()


# E-mail and quarantine --------------------------------------------------------------------


class SubmissionAnswer(BaseModel):
    """What became of a stored raw submission (e-mail, replay)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "submission_id": "4b0a4f0e-1f7e-4f0d-9c59-2c4f5e7a9b10",
                    "status": "accepted",
                    "complaint_id": "0e2218b9-8e5e-48c2-a7b8-e10e1bd730d5",
                    "reference": "RDR-2026-000123",
                    "received_at": "2026-11-23T19:57:20.007687Z",
                    "reason": None,
                }
            ]
        }
    )

    submission_id: uuid.UUID
    status: Literal["accepted", "duplicate", "attached", "quarantined", "ignored"] = Field(
        description="`attached`: a reply to a registered complaint, added to it as the "
        "customer's message; `quarantined`: kept, waiting for a fix and a replay."
    )
    complaint_id: uuid.UUID | None = None
    reference: str | None = None
    received_at: datetime
    reason: str | None = Field(
        default=None, description="Why it was quarantined or ignored (not a complaint)."
    )


class QuarantinedSubmission(BaseModel):
    """A raw submission that could not be normalised, waiting for a fix and a replay."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "4b0a4f0e-1f7e-4f0d-9c59-2c4f5e7a9b10",
                    "status": "quarantined",
                    "channel": "email",
                    "content_type": "message/rfc822",
                    "received_at": "2026-11-23T19:57:20.007687Z",
                    "submitted_by": "smtp:127.0.0.1",
                    "error": "From: the message has no sender address",
                    "attempts": 1,
                    "corrected": False,
                    "size_bytes": 412,
                }
            ]
        }
    )

    id: uuid.UUID
    status: Literal["quarantined", "received"] = Field(
        description="`received`: stored but never normalised (stalled); replay it."
    )
    channel: str
    content_type: str
    received_at: datetime
    submitted_by: str | None
    error: str | None
    attempts: int
    corrected: bool
    size_bytes: int


class QuarantinePage(BaseModel):
    """Quarantined submissions, oldest first."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"items": QuarantinedSubmission.model_config["json_schema_extra"]["examples"]}
                | {"total": 1}
            ]
        }
    )

    items: list[QuarantinedSubmission]
    total: int


class ReplayRequest(BaseModel):
    """An optional operator fix: the corrected raw message replaces the original for
    normalisation (the original stays stored for audit)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "corrected_message": "From: Ana Pop <ana@example.com>\r\n"
                    "Subject: Broken charger\r\n\r\nÎncărcătorul s-a oprit.\r\n"
                }
            ]
        }
    )

    corrected_message: str | None = Field(default=None, max_length=1_000_000)
