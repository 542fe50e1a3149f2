"""HTTP entrypoints of the SLA, outcome, satisfaction and customer figures.

Every figure takes the same window: `from` and `to` (ISO 8601; a time without an offset is
read in `tz`), `tz` an IANA time zone (default UTC) that also aligns any period buckets, and
answers JSON, or CSV when asked with `Accept: text/csv`.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, Depends, Header, Query
from fastapi.responses import Response
from redress_shared.auth import AUTH_RESPONSES
from redress_shared.db import read_snapshot
from redress_shared.errors import Problem, ProblemDetail
from redress_shared.runtime import RuntimeDep

from analytics_service import figures
from analytics_service.api import AnalyticsReader
from analytics_service.figure_schemas import (
    CaseAtRiskRead,
    ClockRead,
    CustomersRead,
    OutcomesRead,
    RemedyTypeRead,
    RemedyValueRead,
    RepeatCustomerRead,
    SatisfactionPeriodRead,
    SatisfactionRead,
    SlaGroupRead,
    SlaRead,
    TierRead,
)
from analytics_service.models import Bucket, InvalidRange, check_range, satisfaction_flags

figures_router = APIRouter(prefix="/v1/analytics", tags=["analytics"], responses=AUTH_RESPONSES)

BAD_WINDOW = {422: {"model": ProblemDetail, "description": "Bad range or time zone"}}
CSV_MEDIA_TYPE = "text/csv"


@dataclass(frozen=True)
class FigureWindow:
    """The [start, end) a figure covers and the time zone its periods are aligned in."""

    start: datetime
    end: datetime
    time_zone: ZoneInfo


def figure_window(
    runtime: RuntimeDep,
    start: Annotated[
        datetime | None,
        Query(alias="from", description="Start (inclusive); default `to` − 30 days"),
    ] = None,
    end: Annotated[
        datetime | None, Query(alias="to", description="End (exclusive); default now")
    ] = None,
    tz: Annotated[str, Query(description="IANA time zone, e.g. Europe/Bucharest")] = "UTC",
) -> FigureWindow:
    """Parse and check the window every figure takes; refuse `from` not before `to`."""
    try:
        time_zone = ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise Problem(
            422, "unknown-time-zone", "Unknown time zone", f"'{tz}' is not an IANA time zone"
        ) from exc

    def aware(moment: datetime | None) -> datetime | None:
        if moment is None or moment.tzinfo is not None:
            return moment
        return moment.replace(tzinfo=time_zone)

    end = aware(end) or runtime.clock.now()
    start = aware(start) or end - timedelta(days=30)
    if start >= end:
        raise Problem(
            422, "invalid-range", "The time range is not valid", "'from' must be before 'to'"
        )
    return FigureWindow(start, end, time_zone)


WindowDep = Annotated[FigureWindow, Depends(figure_window)]
AcceptHeader = Annotated[str | None, Header(alias="accept")]


def wants_csv(accept: str | None) -> bool:
    """True when the client asked for CSV (as the trends endpoint decides it)."""
    return bool(accept and CSV_MEDIA_TYPE in accept)


def csv_response(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Response:
    """A CSV body: one header line, then one line per row (datetimes in ISO 8601)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    for row in rows:
        writer.writerow(
            [value.isoformat() if isinstance(value, datetime) else value for value in row]
        )
    return Response(buffer.getvalue(), media_type=CSV_MEDIA_TYPE)


def _csv_example(header: Sequence[str], *rows: Sequence[Any]) -> dict:
    lines = [",".join(header), *(",".join(str(v) for v in row) for row in rows)]
    return {200: {"content": {CSV_MEDIA_TYPE: {"example": "\n".join(lines) + "\n"}}}}


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
        **_csv_example(
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
    async with read_snapshot(runtime.session_factory) as snapshot:
        groups = await figures.sla_figures(
            snapshot, start=window.start, end=window.end, priority=priority, team=team
        )
        at_risk, at_risk_total = await figures.cases_at_risk(
            snapshot,
            now=runtime.clock.now(),
            priority=priority,
            team=team,
            limit=at_risk_limit,
        )
    if wants_csv(accept):
        return csv_response(  # type: ignore[return-value]
            SLA_CSV_HEADER,
            (
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
                for g in groups
                for clock, c in g.clocks.items()
            ),
        )
    return SlaRead(
        start=window.start,
        end=window.end,
        time_zone=window.time_zone.key,
        groups=[
            SlaGroupRead(
                priority=g.priority,
                team=g.team,
                cases=g.cases,
                **{
                    clock.value: ClockRead(
                        met=c.met,
                        breached=c.breached,
                        pending=c.pending,
                        within_target_share=c.within_target_share,
                        median_minutes=c.median_minutes,
                        p90_minutes=c.p90_minutes,
                    )
                    for clock, c in g.clocks.items()
                },
            )
            for g in groups
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
            for c in at_risk
        ],
        at_risk_total=at_risk_total,
    )


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


OUTCOMES_CSV_HEADER = ("measure", "key", "count", "value")


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
        **_csv_example(
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
    found = await figures.outcomes(runtime.session_factory, start=window.start, end=window.end)
    if wants_csv(accept):
        return csv_response(  # type: ignore[return-value]
            OUTCOMES_CSV_HEADER,
            [
                *(("decision", v, n, "") for v, n in found.decisions.items()),
                *(("remedy", r.remedy_type, r.remedies, "") for r in found.remedies_by_type),
                *(
                    ("remedy_value", r.currency, r.remedies, f"{r.total:.2f}")
                    for r in found.remedy_value
                ),
                ("reopen_rate", "all", found.resolved, found.reopen_rate),
            ],
        )
    return OutcomesRead(
        start=window.start,
        end=window.end,
        time_zone=window.time_zone.key,
        cases=found.cases,
        decided=found.decided,
        decisions=found.decisions,
        decision_shares={v: _share(n, found.decided) for v, n in found.decisions.items()},
        remedies=[
            RemedyTypeRead(
                remedy_type=r.remedy_type,
                remedies=r.remedies,
                declined=r.declined,
                delivered=r.delivered,
            )
            for r in found.remedies_by_type
        ],
        remedy_value=[
            RemedyValueRead(currency=r.currency, remedies=r.remedies, total=f"{r.total:.2f}")
            for r in found.remedy_value
        ],
        resolved=found.resolved,
        reopened=found.reopened,
        reopen_rate=found.reopen_rate,
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
        **_csv_example(
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
    try:
        check_range(window.start, window.end, bucket, runtime.settings.max_trend_buckets)
    except InvalidRange as exc:
        raise Problem(422, "invalid-range", "The time range is not valid", str(exc)) from exc
    rows = await figures.satisfaction(
        runtime.session_factory,
        start=window.start,
        end=window.end,
        bucket=bucket.value,
        time_zone=window.time_zone.key,
    )
    periods = []
    for row in rows:
        coefficient = row.get("coefficient")
        coefficient = round(float(coefficient), 2) if coefficient is not None else None
        recommend_answers, recommend = row.get("recommend_answers", 0), row.get("recommend", 0)
        continue_answers, would_continue = row.get("continue_answers", 0), row.get("continue", 0)
        closed, answered = row.get("closed", 0), row.get("closed_answered", 0)
        periods.append(
            SatisfactionPeriodRead(
                period_start=row["period"].replace(tzinfo=window.time_zone),
                surveys=row.get("surveys", 0),
                coefficient=coefficient,
                would_recommend_share=_share(recommend, recommend_answers),
                would_continue_share=_share(would_continue, continue_answers),
                cases_closed=closed,
                closed_with_survey=answered,
                response_rate=_share(answered, closed),
                flags=[
                    flag.value
                    for flag in satisfaction_flags(
                        coefficient,
                        recommend_answers,
                        recommend,
                        continue_answers,
                        would_continue,
                        runtime.settings.satisfaction_min_answers,
                    )
                ],
            )
        )
    if wants_csv(accept):
        return csv_response(  # type: ignore[return-value]
            SATISFACTION_CSV_HEADER,
            (
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
            ),
        )
    return SatisfactionRead(
        start=window.start,
        end=window.end,
        time_zone=window.time_zone.key,
        bucket=bucket.value,
        periods=periods,
    )


CUSTOMERS_CSV_HEADER = ("kind", "key", "complaints", "customers", "first_at", "last_at")


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
        **_csv_example(
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
    repeat, repeat_total, all_customers = await figures.repeat_complainers(
        runtime.session_factory,
        start=window.start,
        end=window.end,
        min_complaints=min_complaints,
        limit=limit,
    )
    tiers = await figures.complaints_per_tier(
        runtime.session_factory, start=window.start, end=window.end
    )
    if wants_csv(accept):
        return csv_response(  # type: ignore[return-value]
            CUSTOMERS_CSV_HEADER,
            [
                *(
                    ("repeat", r.customer_key, r.complaints, 1, r.first_at, r.last_at)
                    for r in repeat
                ),
                *(("tier", t.tier, t.complaints, t.customers, "", "") for t in tiers),
            ],
        )
    return CustomersRead(
        start=window.start,
        end=window.end,
        time_zone=window.time_zone.key,
        min_complaints=min_complaints,
        customers=all_customers,
        repeat_customers=repeat_total,
        repeat_share=_share(repeat_total, all_customers),
        repeat_complainers=[
            RepeatCustomerRead(
                customer_key=r.customer_key,
                complaints=r.complaints,
                first_at=r.first_at,
                last_at=r.last_at,
            )
            for r in repeat
        ],
        tiers=[
            TierRead(tier=t.tier, complaints=t.complaints, customers=t.customers) for t in tiers
        ],
    )
