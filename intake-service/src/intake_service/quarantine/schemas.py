"""Request and response bodies of the quarantine: the listing and an operator's fix."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class QuarantinedSubmissionRead(BaseModel):
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
                {"items": QuarantinedSubmissionRead.model_config["json_schema_extra"]["examples"]}
                | {"total": 1}
            ]
        }
    )

    items: list[QuarantinedSubmissionRead]
    total: int


class ReplayCreate(BaseModel):
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
