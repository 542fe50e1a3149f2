"""HTTP entrypoints of the SLA, outcome, satisfaction and customer figures.

Every figure takes the same window: `from` and `to` (ISO 8601; a time without an offset is
read in `tz`), `tz` an IANA time zone (default UTC) that also aligns any period buckets, and
answers JSON, or CSV when asked with `Accept: text/csv`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from redress_shared.auth import AUTH_RESPONSES
from redress_shared.errors import ProblemDetail
from redress_shared.runtime import RuntimeDep

from analytics_service.figures import service
from analytics_service.figures.schemas import (
    CUSTOMERS_CSV_HEADER,
    OUTCOMES_CSV_HEADER,
    SATISFACTION_CSV_HEADER,
    SLA_CSV_HEADER,
    CustomersRead,
    OutcomesRead,
    SatisfactionRead,
    SlaRead,
    customers_csv_rows,
    outcomes_csv_rows,
    satisfaction_csv_rows,
    sla_csv_rows,
)
from analytics_service.reporting.model import Bucket, wants_csv
from analytics_service.reporting.schemas import (
    BAD_WINDOW,
    AcceptHeader,
    AnalyticsReader,
    WindowDep,
    csv_response,
    csv_responses,
)

figures_router = APIRouter(prefix="/v1/analytics", tags=["analytics"], responses=AUTH_RESPONSES)


@figures_router.get(
    "/sla",
    summary="SLA: share within target per priority and team, times, and cases at risk now",
    description=(
        "For the cases **opened** in [`from`, `to`): per priority (at opening) and team (the "
        "latest assignment), then per priority (`team` = `all`) and in total (both `all`): "
        "for each clock (acknowledge, first_response, resolve) how many were met, breached "
        "or are pending, the share within target (met / (met + breached)) and the median and "
        "90th percentile of the minutes from receipt to the clock's stop (calendar time, "
        "pauses included; the deadline itself is the case service's, in business time). "
        "A clock that stopped after the deadline set at opening counts as breached even before "
        "the case service reports it, unless the case waited on the customer (a pause moves "
        "deadlines; then only a reported breach counts). `at_risk` lists open cases **now** "
        "(whatever the window) with a clock that has not stopped and warned, breached or is "
        "past its deadline, breached first. CSV (`Accept: text/csv`) has one line "
        "per group and clock and leaves out the at-risk list."
    ),
    responses={
        **csv_responses(
            SLA_CSV_HEADER, ("high", "billing", 21, "acknowledge", 18, 2, 1, 0.9, 42.5, 310.0)
        ),
        **BAD_WINDOW,
    },
)
async def sla(
    runtime: RuntimeDep,
    _: AnalyticsReader,
    window: WindowDep,
    accept: AcceptHeader = None,
    priority: Annotated[str | None, Query(description="Only this priority")] = None,
    team: Annotated[str | None, Query(description="Only this team (`unassigned` for none)")] = None,
    at_risk_limit: Annotated[int, Query(ge=0, le=1000, description="Longest at-risk list")] = 100,
) -> SlaRead:
    """SLA figures of the window's cases and the open cases at risk now."""
    report = await service.sla_report(
        runtime.session_factory,
        window,
        now=runtime.clock.now(),
        priority=priority,
        team=team,
        at_risk_limit=at_risk_limit,
    )
    if wants_csv(accept):
        return csv_response(SLA_CSV_HEADER, sla_csv_rows(report))  # type: ignore[return-value]
    return SlaRead.of(report, window)


@figures_router.get(
    "/outcomes",
    summary="Outcomes: decisions, remedies by type and value per currency, reopen rate",
    description=(
        "For the cases **opened** in [`from`, `to`) (a cohort, so a late decision or remedy "
        "updates the window its case belongs to): each case's latest decision by validity, "
        "remedies in their latest state by type (declined ones are counted but carry no "
        "value), the total value of the remedies not declined per currency, and the share of "
        "resolved cases that were reopened. CSV (`Accept: text/csv`) is one line per figure: "
        "`measure` is decision, remedy, remedy_value or reopen_rate."
    ),
    responses={
        **csv_responses(
            OUTCOMES_CSV_HEADER,
            ("decision", "justified", 18, ""),
            ("remedy", "refund", 9, ""),
            ("remedy_value", "EUR", 8, "449.20"),
            ("reopen_rate", "all", 25, 0.08),
        ),
        **BAD_WINDOW,
    },
)
async def outcomes(
    runtime: RuntimeDep, _: AnalyticsReader, window: WindowDep, accept: AcceptHeader = None
) -> OutcomesRead:
    """Outcomes of the cases opened in the window."""
    found = await service.outcomes(runtime.session_factory, window)
    if wants_csv(accept):
        return csv_response(OUTCOMES_CSV_HEADER, outcomes_csv_rows(found))  # type: ignore[return-value]
    return OutcomesRead.of(found, window)


@figures_router.get(
    "/satisfaction",
    summary="Satisfaction per period: coefficient, would-recommend/continue, response rate",
    description=(
        "Per `bucket` (aligned in `tz`): the surveys **recorded** in the period — the mean of "
        "their weighted coefficients (sum(score × weight) / 100, flagged below 8), the shares "
        "that would recommend us and would continue (flagged when more than 2 in 10 would not "
        "recommend or more than 3 in 10 would not continue, judged on at least "
        "`REDRESS_SATISFACTION_MIN_ANSWERS` (10) answers; unanswered questions are left out) — and the cases **closed** in the period with how many of them have a survey "
        "(the response rate). A later survey of the same case replaces the earlier one. CSV "
        "(`Accept: text/csv`): one line per period, flags separated by `;`."
    ),
    responses={
        **csv_responses(
            SATISFACTION_CSV_HEADER,
            ("2026-11-01T00:00:00+00:00", 20, 7.6, 0.75, 0.9, 25, 18, 0.72, "coefficient_below_8"),
        ),
        422: {"model": ProblemDetail, "description": "Bad range, bucket or time zone"},
    },
)
async def satisfaction(
    runtime: RuntimeDep,
    _: AnalyticsReader,
    window: WindowDep,
    bucket: Bucket = Bucket.MONTH,
    accept: AcceptHeader = None,
) -> SatisfactionRead:
    """Satisfaction per period of the window."""
    periods = await service.satisfaction(
        runtime.session_factory,
        window,
        bucket=bucket,
        max_buckets=runtime.settings.max_trend_buckets,
        min_answers=runtime.settings.satisfaction_min_answers,
    )
    if wants_csv(accept):
        return csv_response(SATISFACTION_CSV_HEADER, satisfaction_csv_rows(periods))  # type: ignore[return-value]
    return SatisfactionRead.of(periods, window, bucket.value)


@figures_router.get(
    "/customers",
    summary="Customers: repeat complainers and complaints per customer tier",
    description=(
        "For the complaints **received** in [`from`, `to`): the customers (by their stable "
        "pseudonymous key) with at least `min_complaints` complaints, most first, and the "
        "complaints and distinct customers per tier (the tier the case service knew when it "
        "opened the case; `unknown` while no case is known). CSV (`Accept: text/csv`): `kind` "
        "is repeat or tier."
    ),
    responses={
        **csv_responses(
            CUSTOMERS_CSV_HEADER,
            (
                "repeat",
                "cust-4f1c2a",
                4,
                1,
                "2026-11-02T09:12:00+00:00",
                "2026-11-28T16:40:00+00:00",
            ),
            ("tier", "vip", 9, 8, "", ""),
        ),
        **BAD_WINDOW,
    },
)
async def customers(
    runtime: RuntimeDep,
    _: AnalyticsReader,
    window: WindowDep,
    accept: AcceptHeader = None,
    min_complaints: Annotated[
        int, Query(ge=2, le=1000, description="Complaints that make a repeat complainer")
    ] = 2,
    limit: Annotated[int, Query(ge=0, le=1000, description="Longest repeat list")] = 100,
) -> CustomersRead:
    """Repeat complainers and complaints per customer tier of the window's complaints."""
    found = await service.customers(
        runtime.session_factory, window, min_complaints=min_complaints, limit=limit
    )
    if wants_csv(accept):
        return csv_response(CUSTOMERS_CSV_HEADER, customers_csv_rows(found))  # type: ignore[return-value]
    return CustomersRead.of(found, window, min_complaints)
