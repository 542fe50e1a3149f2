"""Request and response bodies of the notification API: customer notifications."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

_NOTIFICATION_EXAMPLE = {
    "id": "9202ce1e-0caa-42fa-ac87-6943a9825c2a",
    "case_id": "0632217e-7285-4bec-9058-777625dac930",
    "reference": "RDR-2026-000123",
    "template": "acknowledgement",
    "template_version": 1,
    "language": "ro",
    "channel": "sms",
    "recipient": "+40712345678",
    "subject": "Am primit reclamația dumneavoastră [RDR-2026-000123]",
    "status": "sent",
    "attempts": 1,
    "last_error": "email: 550 5.1.1 No such mailbox",
    "message_id": "<9202ce1e-0caa-42fa-ac87-6943a9825c2a@redress.example>",
    "collapsed_into": None,
    "created_at": "2026-11-23T19:57:20.197508Z",
    "sent_at": "2026-11-23T19:57:20.943446Z",
    "delivery_attempts": [
        {
            "channel": "email",
            "recipient": "ana@example.com",
            "attempted_at": "2026-11-23T19:57:20.343446Z",
            "outcome": "failed",
            "error": "550 5.1.1 No such mailbox",
        },
        {
            "channel": "sms",
            "recipient": "+40712345678",
            "attempted_at": "2026-11-23T19:57:20.943446Z",
            "outcome": "sent",
            "error": None,
        },
    ],
}


class NotificationAttemptRead(BaseModel):
    """One try to deliver a message on one channel."""

    model_config = ConfigDict(from_attributes=True)

    channel: str = Field(examples=["email"])
    recipient: str = Field(examples=["ana@example.com"])
    attempted_at: datetime
    outcome: str = Field(examples=["failed"], description="sent | retry | failed")
    error: str | None = Field(examples=["550 5.1.1 No such mailbox"])


class NotificationRead(BaseModel):
    """One message to a customer: what (kind, template version, language), to whom, on which
    channel, when, and how it went, with every delivery attempt."""

    model_config = ConfigDict(
        from_attributes=True, json_schema_extra={"examples": [_NOTIFICATION_EXAMPLE]}
    )

    id: uuid.UUID
    case_id: uuid.UUID
    reference: str
    template: str = Field(examples=["acknowledgement"], description="The kind of message.")
    template_version: int | None = Field(
        examples=[1], description="The template version it was rendered from (1: built-in)."
    )
    language: str = Field(examples=["ro"])
    channel: str = Field(examples=["email"], description="The channel used (or being tried).")
    recipient: str
    subject: str
    status: str = Field(
        examples=["sent"],
        description="pending | sent | failed | collapsed (said by the later status message "
        "`collapsed_into`)",
    )
    attempts: int = Field(description="Attempts on the current channel.")
    last_error: str | None
    message_id: str
    collapsed_into: uuid.UUID | None = None
    created_at: datetime
    sent_at: datetime | None
    delivery_attempts: list[NotificationAttemptRead] = Field(default_factory=list)

    @classmethod
    def of(cls, row: Any, attempts: list[Any]) -> NotificationRead:
        """From a notification row and its attempt rows."""
        return cls.model_validate(
            {
                **row._mapping,
                "delivery_attempts": [NotificationAttemptRead.model_validate(a) for a in attempts],
            }
        )
