"""Response bodies of the SLA, outcome, satisfaction and customer figures."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class ClockRead(BaseModel):
    """How one SLA clock fared for a group of cases."""

    met: int = Field(description="Stopped in time (no breach reported).")
    breached: int = Field(description="The case service reported a breach of this clock.")
    pending: int = Field(description="Neither yet: still running, or cancelled.")
    within_target_share: float | None = Field(
        description="met / (met + breached); null while no clock has an outcome."
    )
    median_minutes: float | None = Field(description="From receipt to the clock's stop.")
    p90_minutes: float | None


class SlaGroupRead(BaseModel):
    """SLA figures of one priority and team; `all` marks a total."""

    priority: str
    team: str
    cases: int
    acknowledge: ClockRead
    first_response: ClockRead
    resolve: ClockRead


class CaseAtRiskRead(BaseModel):
    """An open case whose SLA clock warned or breached and has not stopped."""

    case_id: uuid.UUID
    reference: str | None
    priority: str | None
    team: str | None
    status: str
    clock: str = Field(description="acknowledge | first_response | resolve")
    state: str = Field(description="warning | breached")
    due_at: datetime | None = Field(description="The deadline set when the case opened.")
    since: datetime = Field(description="When the warning or breach was reported.")


_CLOCK_EXAMPLE = {
    "met": 18,
    "breached": 2,
    "pending": 1,
    "within_target_share": 0.9,
    "median_minutes": 42.5,
    "p90_minutes": 310.0,
}


class SlaRead(BaseModel):
    """SLA figures of the cases opened in [`from`, `to`) and the open cases at risk now."""

    model_config = ConfigDict(
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {
                    "from": "2026-11-01T00:00:00Z",
                    "to": "2026-12-01T00:00:00Z",
                    "time_zone": "UTC",
                    "groups": [
                        {
                            "priority": "high",
                            "team": "billing",
                            "cases": 21,
                            "acknowledge": _CLOCK_EXAMPLE,
                            "first_response": _CLOCK_EXAMPLE,
                            "resolve": _CLOCK_EXAMPLE,
                        }
                    ],
                    "at_risk": [
                        {
                            "case_id": "7b0c6a52-52c8-4a8e-9d55-3f1f0e9a1c11",
                            "reference": "RDR-2026-000123",
                            "priority": "high",
                            "team": "billing",
                            "status": "investigating",
                            "clock": "resolve",
                            "state": "warning",
                            "due_at": "2026-11-30T17:00:00Z",
                            "since": "2026-11-30T09:00:00Z",
                        }
                    ],
                    "at_risk_total": 1,
                }
            ]
        },
    )

    start: datetime = Field(alias="from")
    end: datetime = Field(alias="to")
    time_zone: str
    groups: list[SlaGroupRead]
    at_risk: list[CaseAtRiskRead]
    at_risk_total: int = Field(description="All open cases at risk (the list may be cut).")
