"""Request bodies of the channels beyond the JSON API: phone calls, chats, social posts."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    HttpUrl,
    field_validator,
    model_validator,
)

from intake_service.complaints.schemas import LANGUAGE_TAG, EmailAddress, ProductCreate


class ComplaintDetails(BaseModel):
    """What the submitter already knows about the complaint; each field wins over what
    intake would pull from the text."""

    subject: str | None = Field(default=None, max_length=500)
    category: str | None = Field(default=None, max_length=100, examples=["outage"])
    product: ProductCreate | None = None
    supplier: str | None = Field(default=None, max_length=300)
    order_ref: str | None = Field(default=None, max_length=100)


class CallerCreate(BaseModel):
    """What the agent learnt about the caller beyond the number."""

    model_config = ConfigDict(str_strip_whitespace=True)

    name: str | None = Field(default=None, max_length=300, examples=["Jānis Bērziņš"])
    email: EmailAddress | None = Field(default=None, examples=["janis@example.lv"])
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
    caller: CallerCreate | None = None

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
    email: EmailAddress | None = None
    phone: str | None = Field(default=None, max_length=40)
    language: str | None = Field(default=None, pattern=LANGUAGE_TAG)


class ChatMessageCreate(BaseModel):
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
    messages: list[ChatMessageCreate] = Field(min_length=1, max_length=5_000)

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
    email: EmailAddress | None = Field(default=None, description="When the customer gave it.")
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
