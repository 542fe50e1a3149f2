"""Response bodies of e-mail intake: what became of a stored raw submission."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class SubmissionRead(BaseModel):
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
