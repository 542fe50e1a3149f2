"""Response bodies of the notification API."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class NotificationRead(BaseModel):
    """One message to a customer: what, to whom, on which channel, and how it went."""

    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": "9202ce1e-0caa-42fa-ac87-6943a9825c2a",
                    "case_id": "0632217e-7285-4bec-9058-777625dac930",
                    "reference": "RDR-2026-000123",
                    "template": "acknowledgement",
                    "language": "ro",
                    "channel": "email",
                    "recipient": "ana@example.com",
                    "subject": "Am primit reclamația dumneavoastră [RDR-2026-000123]",
                    "status": "sent",
                    "attempts": 1,
                    "last_error": None,
                    "message_id": "<9202ce1e-0caa-42fa-ac87-6943a9825c2a@redress.example>",
                    "created_at": "2026-11-23T19:57:20.197508Z",
                    "sent_at": "2026-11-23T19:57:20.343446Z",
                }
            ]
        },
    )

    id: uuid.UUID
    case_id: uuid.UUID
    reference: str
    template: str = Field(examples=["acknowledgement"])
    language: str = Field(examples=["ro"])
    channel: str = Field(examples=["email"])
    recipient: str
    subject: str
    status: str = Field(examples=["sent"], description="pending | sent | failed")
    attempts: int
    last_error: str | None
    message_id: str
    created_at: datetime
    sent_at: datetime | None
