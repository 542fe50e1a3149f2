"""Request and response bodies of commitments (promises made to the customer)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from case_service.cases.schemas import CASE_ID


class CommitmentCreate(BaseModel):
    """A promise to the customer with its deadline."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"description": "Call the customer back", "due_at": "2026-11-24T15:00:00Z"}
            ]
        }
    )

    description: str = Field(min_length=1, max_length=1000)
    due_at: datetime = Field(description="With a time zone; must be in the future.")


class CommitmentRead(CommitmentCreate):
    """A commitment and whether it was kept."""

    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": "8b7a6c5d-4e3f-4a2b-9c1d-0e9f8a7b6c5d",
                    "case_id": CASE_ID,
                    "description": "Call the customer back",
                    "due_at": "2026-11-24T15:00:00Z",
                    "status": "open",
                    "created_by": "agent-maria",
                    "created_at": "2026-11-24T10:00:00Z",
                    "settled_at": None,
                }
            ]
        },
    )

    id: uuid.UUID
    case_id: uuid.UUID
    status: str = Field(description="open | kept | missed | cancelled")
    created_by: str
    created_at: datetime
    settled_at: datetime | None


class CommitmentActionCreate(BaseModel):
    """Settle an open commitment."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"action": "keep"}]})

    action: Literal["keep", "cancel"]
