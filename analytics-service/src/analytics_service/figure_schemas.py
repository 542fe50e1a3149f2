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


class RemedyTypeRead(BaseModel):
    """Remedies of one type in their latest state."""

    remedy_type: str
    remedies: int
    declined: int
    delivered: int


class RemedyValueRead(BaseModel):
    """Total value of the remedies not declined, in one currency."""

    currency: str
    remedies: int
    total: str = Field(description="Decimal as a string, e.g. '149.70'.")


class OutcomesRead(BaseModel):
    """Outcomes of the cases opened in [`from`, `to`)."""

    model_config = ConfigDict(
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {
                    "from": "2026-11-01T00:00:00Z",
                    "to": "2026-12-01T00:00:00Z",
                    "time_zone": "UTC",
                    "cases": 40,
                    "decided": 30,
                    "decisions": {"justified": 18, "partly_justified": 5, "unjustified": 7},
                    "decision_shares": {
                        "justified": 0.6,
                        "partly_justified": 0.1667,
                        "unjustified": 0.2333,
                    },
                    "remedies": [
                        {"remedy_type": "refund", "remedies": 9, "declined": 1, "delivered": 6}
                    ],
                    "remedy_value": [{"currency": "EUR", "remedies": 8, "total": "449.20"}],
                    "resolved": 25,
                    "reopened": 2,
                    "reopen_rate": 0.08,
                }
            ]
        },
    )

    start: datetime = Field(alias="from")
    end: datetime = Field(alias="to")
    time_zone: str
    cases: int
    decided: int
    decisions: dict[str, int] = Field(description="Each case's latest decision, by validity.")
    decision_shares: dict[str, float | None]
    remedies: list[RemedyTypeRead]
    remedy_value: list[RemedyValueRead]
    resolved: int = Field(description="Cases resolved at least once.")
    reopened: int = Field(description="Of those, reopened at least once.")
    reopen_rate: float | None


class SatisfactionPeriodRead(BaseModel):
    """Satisfaction in one period."""

    period_start: datetime
    surveys: int
    coefficient: float | None = Field(description="Mean of the surveys' weighted coefficients.")
    would_recommend_share: float | None
    would_continue_share: float | None
    cases_closed: int
    closed_with_survey: int
    response_rate: float | None = Field(description="Surveys answered / cases closed.")
    flags: list[str] = Field(
        description="coefficient_below_8, would_not_recommend_above_2_in_10, "
        "would_not_continue_above_3_in_10"
    )


class SatisfactionRead(BaseModel):
    """Satisfaction per period of [`from`, `to`)."""

    model_config = ConfigDict(
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {
                    "from": "2026-10-01T00:00:00Z",
                    "to": "2026-12-01T00:00:00Z",
                    "time_zone": "UTC",
                    "bucket": "month",
                    "periods": [
                        {
                            "period_start": "2026-11-01T00:00:00Z",
                            "surveys": 20,
                            "coefficient": 7.6,
                            "would_recommend_share": 0.75,
                            "would_continue_share": 0.9,
                            "cases_closed": 25,
                            "closed_with_survey": 18,
                            "response_rate": 0.72,
                            "flags": ["coefficient_below_8", "would_not_recommend_above_2_in_10"],
                        }
                    ],
                }
            ]
        },
    )

    start: datetime = Field(alias="from")
    end: datetime = Field(alias="to")
    time_zone: str
    bucket: str
    periods: list[SatisfactionPeriodRead]


class RepeatCustomerRead(BaseModel):
    """A customer who complained repeatedly (pseudonymous key; the case service has the rest)."""

    customer_key: str
    complaints: int
    first_at: datetime
    last_at: datetime


class TierRead(BaseModel):
    """Complaints of one customer tier."""

    tier: str
    complaints: int
    customers: int


class CustomersRead(BaseModel):
    """Repeat complainers and complaints per customer tier, for complaints received in
    [`from`, `to`)."""

    model_config = ConfigDict(
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {
                    "from": "2026-11-01T00:00:00Z",
                    "to": "2026-12-01T00:00:00Z",
                    "time_zone": "UTC",
                    "min_complaints": 2,
                    "customers": 120,
                    "repeat_customers": 7,
                    "repeat_share": 0.0583,
                    "repeat_complainers": [
                        {
                            "customer_key": "cust-4f1c2a",
                            "complaints": 4,
                            "first_at": "2026-11-02T09:12:00Z",
                            "last_at": "2026-11-28T16:40:00Z",
                        }
                    ],
                    "tiers": [
                        {"tier": "standard", "complaints": 131, "customers": 112},
                        {"tier": "vip", "complaints": 9, "customers": 8},
                    ],
                }
            ]
        },
    )

    start: datetime = Field(alias="from")
    end: datetime = Field(alias="to")
    time_zone: str
    min_complaints: int
    customers: int = Field(description="Customers who complained in the window.")
    repeat_customers: int
    repeat_share: float | None
    repeat_complainers: list[RepeatCustomerRead]
    tiers: list[TierRead]
