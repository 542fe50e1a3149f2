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
from redress_shared.errors import Problem, ProblemDetail
from redress_shared.runtime import RuntimeDep

from analytics_service import figures
from analytics_service.api import AnalyticsReader
from analytics_service.figure_schemas import (
    CaseAtRiskRead,
    ClockRead,
    SlaGroupRead,
    SlaRead,
)

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
        "`at_risk` lists open cases **now** (whatever the window) with a clock that warned or "
        "breached and has not stopped, breached first. CSV (`Accept: text/csv`) has one line "
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
    groups = await figures.sla_figures(
        runtime.session_factory, start=window.start, end=window.end, priority=priority, team=team
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
    at_risk, at_risk_total = await figures.cases_at_risk(
        runtime.session_factory, priority=priority, team=team, limit=at_risk_limit
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
