"""Request and response bodies of corrective actions."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field

from case_service.capa.model import CapaStatus

EXAMPLE = {
    "id": "3e2d1c0b-a987-4654-8321-0fedcba98765",
    "title": "Supplier defects: Voltix (supplier component)",
    "description": "7 upheld complaints in November (threshold 6).",
    "owner": "quality-lead",
    "due_date": "2026-12-15",
    "status": "in_progress",
    "supplier": "Voltix",
    "product": None,
    "effect": None,
    "source_alert_id": "5f0e8d7c-6b5a-4948-8372-6a5b4c3d2e1f",
    "case_ids": ["0b7f1f7e-7a7b-4f55-9b0a-3d9a7c1c2e11"],
    "created_by": "analytics-alert",
    "created_at": "2026-11-20T14:03:05Z",
    "updated_at": "2026-11-21T09:00:00Z",
    "closed_at": None,
}


class CorrectiveActionCreate(BaseModel):
    """A corrective or preventive action opened by hand."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "title": "Replace capacitor batch 24-17 at Voltix",
                    "owner": "quality-lead",
                    "due_date": "2026-12-15",
                    "supplier": "Voltix",
                    "product": "CH-20",
                    "case_ids": ["0b7f1f7e-7a7b-4f55-9b0a-3d9a7c1c2e11"],
                }
            ]
        }
    )

    title: str = Field(min_length=1, max_length=300)
    description: str | None = Field(default=None, max_length=10_000)
    owner: str | None = Field(default=None, max_length=200)
    due_date: date | None = None
    supplier: str | None = Field(default=None, max_length=300)
    product: str | None = Field(default=None, max_length=300)
    case_ids: list[uuid.UUID] = Field(default_factory=list, max_length=1000)


class CorrectiveActionUpdate(BaseModel):
    """Changes to a corrective action; closing (`done`) needs `effect`."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"status": "done", "effect": "No more capacitor failures since batch 24-18."}
            ]
        },
    )

    description: str | None = Field(default=None, max_length=10_000)
    owner: str | None = Field(default=None, max_length=200)
    due_date: date | None = None
    status: CapaStatus | None = None
    effect: str | None = Field(default=None, max_length=10_000)
    add_case_ids: list[uuid.UUID] = Field(default_factory=list, max_length=1000)


class CorrectiveActionRead(BaseModel):
    """A corrective action with its linked cases."""

    model_config = ConfigDict(json_schema_extra={"examples": [EXAMPLE]})

    id: uuid.UUID
    title: str
    description: str | None
    owner: str | None
    due_date: date | None
    status: CapaStatus
    supplier: str | None
    product: str | None
    effect: str | None
    source_alert_id: uuid.UUID | None
    case_ids: list[uuid.UUID]
    created_by: str
    created_at: datetime
    updated_at: datetime
    closed_at: datetime | None

    @classmethod
    def from_row(cls, row, case_ids: list[uuid.UUID]) -> CorrectiveActionRead:  # noqa: ANN001
        """Build from a ``corrective_actions`` row and its linked case ids."""
        return cls(**row._mapping, case_ids=case_ids)
