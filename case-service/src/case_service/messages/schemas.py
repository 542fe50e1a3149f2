"""Request and response bodies of a case's messages: notes, responses, the customer's own."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from case_service.cases.schemas import CASE_ID


class MessageCreate(BaseModel):
    """A note for colleagues, or a response to the customer."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"kind": "response", "body": "We are sending a new charger today."}]
        }
    )

    kind: Literal["note", "response"]
    body: str = Field(min_length=1, max_length=20_000)


class MessageRead(MessageCreate):
    """A note or response as stored."""

    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": "2d1f0c3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f",
                    "case_id": CASE_ID,
                    "kind": "note",
                    "body": "Supplier confirmed a bad batch.",
                    "author": "agent-maria",
                    "created_at": "2026-11-23T11:00:00Z",
                }
            ]
        },
    )

    kind: Literal["note", "response", "customer"] = Field(  # type: ignore[assignment]
        description="`customer`: the customer's own message (a reply by e-mail), "
        "recorded from intake's `complaint.message_received` event."
    )
    id: uuid.UUID
    case_id: uuid.UUID
    author: str
    created_at: datetime
