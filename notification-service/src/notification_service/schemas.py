"""Response bodies of the notification API."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class NotificationRead(BaseModel):
    """One message to a customer: what, to whom, on which channel, and how it went."""

    model_config = ConfigDict(from_attributes=True)

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
