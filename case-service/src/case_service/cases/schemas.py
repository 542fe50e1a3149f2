"""Request and response bodies of the case API."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from case_service.cases.model import (
    Action,
    CaseStatus,
    Priority,
    SlaState,
)
from case_service.duplicates.model import DuplicateSuggestion


class SlaDue(BaseModel):
    """When each SLA clock runs out."""

    acknowledge_by: datetime
    first_response_by: datetime
    resolve_by: datetime
    policy: str = Field(examples=["normal-default"])


CASE_ID = "0b7f1f7e-7a7b-4f55-9b0a-3d9a7c1c2e11"
"""The case id the examples of every case resource use."""

CASE_EXAMPLE = {
    "id": CASE_ID,
    "complaint_id": "6d8e0d8f-1b3c-4e55-8a1e-2f7c9b0d4a22",
    "reference": "RDR-2026-000123",
    "status": "new",
    "priority": "normal",
    "category": "product_defect",
    "channel": "api",
    "customer_key": "4f1c2b9e-5a6d-5e7f-8a9b-0c1d2e3f4a5b",
    "subject": "Broken charger",
    "language": "ro",
    "received_at": "2026-11-23T10:00:00Z",
    "opened_at": "2026-11-23T10:00:01Z",
    "updated_at": "2026-11-23T10:00:01Z",
    "version": 1,
    "sla": {
        "acknowledge_by": "2026-11-24T10:00:00Z",
        "first_response_by": "2026-11-25T10:00:00Z",
        "resolve_by": "2026-12-07T10:00:00Z",
        "policy": "normal-default",
    },
}


class ClockRead(BaseModel):
    """One SLA clock of a case (times in seconds of business time)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "clock": "resolve",
                    "state": "paused",
                    "target_seconds": 1209600,
                    "due_at": "2026-12-07T19:57:20Z",
                    "warn_at": "2026-12-04T19:57:20Z",
                    "elapsed_seconds": 86400,
                    "remaining_seconds": 1123200,
                    "paused_seconds": 3600,
                    "warning_fired_at": None,
                    "breached_at": None,
                }
            ]
        }
    )

    clock: str = Field(description="acknowledge | first_response | resolve")
    state: str = Field(description="running | paused | met | breached | cancelled")
    target_seconds: int
    due_at: datetime
    warn_at: datetime
    elapsed_seconds: int
    remaining_seconds: int = Field(description="Negative once the deadline has passed.")
    paused_seconds: int
    warning_fired_at: datetime | None
    breached_at: datetime | None


class DuplicateSuggestionRead(BaseModel):
    """Another case of the same customer that looks like the same complaint; an agent
    confirms it by merging one case into the other (nothing is merged automatically)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "case_id": "5c1e9a2b-3d4f-4a6b-8c7d-9e0f1a2b3c4d",
                    "reference": "RDR-2026-000119",
                    "status": "acknowledged",
                    "received_at": "2026-11-22T08:30:00Z",
                    "similarity": 0.92,
                }
            ]
        }
    )

    case_id: uuid.UUID
    reference: str
    status: str
    received_at: datetime
    similarity: float = Field(ge=0, le=1, description="Token-set similarity of subject and body.")

    @classmethod
    def from_suggestion(cls, suggestion: DuplicateSuggestion) -> DuplicateSuggestionRead:
        """Build from a domain suggestion."""
        found = suggestion.case
        return cls(
            case_id=found.case_id,
            reference=found.reference,
            status=found.status,
            received_at=found.received_at,
            similarity=suggestion.similarity,
        )


class CaseRead(BaseModel):
    """A case as ops teams see it."""

    model_config = ConfigDict(json_schema_extra={"examples": [CASE_EXAMPLE]})

    id: uuid.UUID
    complaint_id: uuid.UUID
    reference: str
    status: str
    priority: str
    category: str | None
    channel: str
    customer_key: str
    subject: str | None
    body: str | None = Field(default=None, description="The complaint in the customer's words.")
    language: str | None
    received_at: datetime
    opened_at: datetime
    updated_at: datetime
    version: int
    closed_at: datetime | None = None
    reopen_count: int = 0
    merged_into: uuid.UUID | None = None
    supplier: str | None = None
    product: str | None = None
    team: str | None = None
    assignee: str | None = None
    sla: SlaDue
    clocks: list[ClockRead] | None = Field(
        default=None, description="Every SLA clock; on single-case reads only."
    )
    duplicate_suggestions: list[DuplicateSuggestionRead] | None = Field(
        default=None,
        description="Likely duplicates (same customer, similar text, received close together), "
        "most similar first; on single-case reads only. Confirm one with a `merge`.",
    )

    @classmethod
    def from_row(cls, row) -> CaseRead:  # noqa: ANN001
        """Build from a ``cases`` row."""
        data = dict(row._mapping)
        data["sla"] = SlaDue(
            acknowledge_by=data.pop("acknowledge_by"),
            first_response_by=data.pop("first_response_by"),
            resolve_by=data.pop("resolve_by"),
            policy=data.pop("sla_policy"),
        )
        data.pop("status_before_merge", None)
        return cls(**data)


class CasePage(BaseModel):
    """One page of cases, newest first."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"items": [CASE_EXAMPLE], "next_cursor": None}]}
    )

    items: list[CaseRead]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null at the end."
    )


class CaseHistoryEntryRead(BaseModel):
    """One entry of a case's append-only history."""

    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": 2,
                    "at": "2026-11-23T19:57:20.343446Z",
                    "actor": "notification-service",
                    "action": "notification_sent",
                    "before": None,
                    "after": {"template": "acknowledgement", "channel": "email", "attempts": 1},
                    "event_id": "b106edf4-d969-4219-8c84-aa6657364732",
                }
            ]
        },
    )

    id: int
    at: datetime
    actor: str
    action: str = Field(examples=["opened"])
    before: dict | None
    after: dict | None
    event_id: uuid.UUID | None


class CaseTransitionCreate(BaseModel):
    """One lifecycle action on a case, with what the action needs."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"action": "start"},
                {"action": "request_info", "reason": "Please send a photo of the serial number."},
                {"action": "resolve", "reason": "Replacement charger sent, tracking RO123."},
                {"action": "reopen", "reason": "The replacement fails the same way."},
                {"action": "merge", "into_case_id": "0b7f1f7e-7a7b-4f55-9b0a-3d9a7c1c2e11"},
            ]
        }
    )

    action: Action
    reason: str | None = Field(
        default=None,
        max_length=5000,
        description="Why; required for request_info, resolve, reopen and withdraw.",
    )
    into_case_id: uuid.UUID | None = Field(
        default=None, description="For merge: the primary case this duplicate folds into."
    )


class CaseFilter(BaseModel):
    """Filters of ``GET /v1/cases``; all optional, combined with AND."""

    model_config = ConfigDict(extra="forbid")

    complaint_id: uuid.UUID | None = None
    status: list[CaseStatus] = Field(default_factory=list, description="Any of these statuses.")
    priority: list[Priority] = Field(default_factory=list, description="Any of these priorities.")
    category: str | None = None
    channel: str | None = None
    customer_key: str | None = None
    team: str | None = None
    assignee: str | None = None
    sla_state: SlaState | None = Field(
        default=None, description="ok: no clock warned or breached; warning; breached."
    )
    text: str | None = Field(
        default=None, min_length=2, max_length=200, description="In subject or reference."
    )
    opened_from: datetime | None = None
    opened_to: datetime | None = None
    updated_from: datetime | None = None
    updated_to: datetime | None = None
    limit: int = Field(default=50, ge=1, le=200)
    cursor: str | None = None
