"""Response bodies of the SLA, outcome, satisfaction and customer figures, in JSON and in
CSV (one header and one line per row)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from analytics_service.figures.model import (
    CustomerFigures,
    Outcomes,
    SatisfactionPeriod,
    SlaReport,
)
from analytics_service.reporting.model import FigureWindow
from analytics_service.reporting.schemas import WindowRead, window_fields

CsvRows = Iterable[Sequence[Any]]


class ClockRead(BaseModel):
    """How one SLA clock fared for a group of cases."""

    model_config = ConfigDict(from_attributes=True)

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


class SlaRead(WindowRead):
    """SLA figures of the cases opened in [`from`, `to`) and the open cases at risk now."""

    model_config = ConfigDict(
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

    groups: list[SlaGroupRead]
    at_risk: list[CaseAtRiskRead]
    at_risk_total: int = Field(description="All open cases at risk (the list may be cut).")

    @classmethod
    def of(cls, report: SlaReport, window: FigureWindow) -> SlaRead:
        """The response body of an SLA report over ``window``."""
        return cls(
            **window_fields(window),
            groups=[
                SlaGroupRead(
                    priority=g.priority,
                    team=g.team,
                    cases=g.cases,
                    **{clock.value: ClockRead.model_validate(c) for clock, c in g.clocks.items()},
                )
                for g in report.groups
            ],
            at_risk=[
                CaseAtRiskRead(
                    case_id=c.case_id,
                    reference=c.reference,
                    priority=c.priority,
                    team=c.team,
                    status=c.status,
                    clock=c.clock.value,
                    state=c.state,
                    due_at=c.due_at,
                    since=c.since,
                )
                for c in report.at_risk
            ],
            at_risk_total=report.at_risk_total,
        )


SLA_CSV_HEADER = (
    "priority",
    "team",
    "cases",
    "clock",
    "met",
    "breached",
    "pending",
    "within_target_share",
    "median_minutes",
    "p90_minutes",
)


def sla_csv_rows(report: SlaReport) -> CsvRows:
    """One CSV line per group and clock (the at-risk list is left out)."""
    return (
        (
            g.priority,
            g.team,
            g.cases,
            clock.value,
            c.met,
            c.breached,
            c.pending,
            c.within_target_share,
            c.median_minutes,
            c.p90_minutes,
        )
        for g in report.groups
        for clock, c in g.clocks.items()
    )


class RemedyTypeRead(BaseModel):
    """Remedies of one type in their latest state."""

    model_config = ConfigDict(from_attributes=True)

    remedy_type: str
    remedies: int
    declined: int
    delivered: int


class RemedyValueRead(BaseModel):
    """Total value of the remedies not declined, in one currency."""

    currency: str
    remedies: int
    total: str = Field(description="Decimal as a string, e.g. '149.70'.")


class OutcomesRead(WindowRead):
    """Outcomes of the cases opened in [`from`, `to`)."""

    model_config = ConfigDict(
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

    cases: int
    decided: int
    decisions: dict[str, int] = Field(description="Each case's latest decision, by validity.")
    decision_shares: dict[str, float | None]
    remedies: list[RemedyTypeRead]
    remedy_value: list[RemedyValueRead]
    resolved: int = Field(description="Cases resolved at least once.")
    reopened: int = Field(description="Of those, reopened at least once.")
    reopen_rate: float | None

    @classmethod
    def of(cls, found: Outcomes, window: FigureWindow) -> OutcomesRead:
        """The response body of a cohort's outcomes over ``window``."""
        return cls(
            **window_fields(window),
            cases=found.cases,
            decided=found.decided,
            decisions=found.decisions,
            decision_shares=found.decision_shares,
            remedies=[RemedyTypeRead.model_validate(r) for r in found.remedies_by_type],
            remedy_value=[
                RemedyValueRead(currency=r.currency, remedies=r.remedies, total=f"{r.total:.2f}")
                for r in found.remedy_value
            ],
            resolved=found.resolved,
            reopened=found.reopened,
            reopen_rate=found.reopen_rate,
        )


OUTCOMES_CSV_HEADER = ("measure", "key", "count", "value")


def outcomes_csv_rows(found: Outcomes) -> CsvRows:
    """One CSV line per figure: decision, remedy, remedy_value, reopen_rate."""
    return [
        *(("decision", v, n, "") for v, n in found.decisions.items()),
        *(("remedy", r.remedy_type, r.remedies, "") for r in found.remedies_by_type),
        *(("remedy_value", r.currency, r.remedies, f"{r.total:.2f}") for r in found.remedy_value),
        ("reopen_rate", "all", found.resolved, found.reopen_rate),
    ]


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


class SatisfactionRead(WindowRead):
    """Satisfaction per period of [`from`, `to`)."""

    model_config = ConfigDict(
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

    bucket: str
    periods: list[SatisfactionPeriodRead]

    @classmethod
    def of(
        cls, periods: list[SatisfactionPeriod], window: FigureWindow, bucket: str
    ) -> SatisfactionRead:
        """The response body of the satisfaction per period over ``window``."""
        return cls(
            **window_fields(window),
            bucket=bucket,
            periods=[SatisfactionPeriodRead(**vars(p)) for p in periods],
        )


SATISFACTION_CSV_HEADER = (
    "period_start",
    "surveys",
    "coefficient",
    "would_recommend_share",
    "would_continue_share",
    "cases_closed",
    "closed_with_survey",
    "response_rate",
    "flags",
)


def satisfaction_csv_rows(periods: list[SatisfactionPeriod]) -> CsvRows:
    """One CSV line per period, flags separated by ``;``."""
    return (
        (
            p.period_start,
            p.surveys,
            p.coefficient,
            p.would_recommend_share,
            p.would_continue_share,
            p.cases_closed,
            p.closed_with_survey,
            p.response_rate,
            ";".join(p.flags),
        )
        for p in periods
    )


class RepeatCustomerRead(BaseModel):
    """A customer who complained repeatedly (pseudonymous key; the case service has the rest)."""

    model_config = ConfigDict(from_attributes=True)

    customer_key: str
    complaints: int
    first_at: datetime
    last_at: datetime


class TierRead(BaseModel):
    """Complaints of one customer tier."""

    model_config = ConfigDict(from_attributes=True)

    tier: str
    complaints: int
    customers: int


class CustomersRead(WindowRead):
    """Repeat complainers and complaints per customer tier, for complaints received in
    [`from`, `to`)."""

    model_config = ConfigDict(
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

    min_complaints: int
    customers: int = Field(description="Customers who complained in the window.")
    repeat_customers: int
    repeat_share: float | None
    repeat_complainers: list[RepeatCustomerRead]
    tiers: list[TierRead]

    @classmethod
    def of(cls, found: CustomerFigures, window: FigureWindow, min_complaints: int) -> CustomersRead:
        """The response body of the customer figures over ``window``."""
        return cls(
            **window_fields(window),
            min_complaints=min_complaints,
            customers=found.customers,
            repeat_customers=found.repeat_total,
            repeat_share=found.repeat_share,
            repeat_complainers=[RepeatCustomerRead.model_validate(r) for r in found.repeat],
            tiers=[TierRead.model_validate(t) for t in found.tiers],
        )


CUSTOMERS_CSV_HEADER = ("kind", "key", "complaints", "customers", "first_at", "last_at")


def customers_csv_rows(found: CustomerFigures) -> CsvRows:
    """One CSV line per repeat complainer, then one per tier."""
    return [
        *(("repeat", r.customer_key, r.complaints, 1, r.first_at, r.last_at) for r in found.repeat),
        *(("tier", t.tier, t.complaints, t.customers, "", "") for t in found.tiers),
    ]
