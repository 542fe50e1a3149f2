"""Figure use cases: each answer read in one session (the SLA answer in one snapshot)."""

from __future__ import annotations

from datetime import datetime

from redress_shared.db import SessionFactory, read_snapshot

from analytics_service.figures import store
from analytics_service.figures.model import (
    CustomerFigures,
    Outcomes,
    SatisfactionPeriod,
    SlaReport,
    satisfaction_period,
)
from analytics_service.reporting.model import Bucket, FigureWindow, check_range


async def sla_report(
    session_factory: SessionFactory,
    window: FigureWindow,
    *,
    now: datetime,
    priority: str | None,
    team: str | None,
    at_risk_limit: int,
) -> SlaReport:
    """SLA figures of the cases opened in the window, and the open cases at risk ``now``,
    from one snapshot so the two parts agree."""
    async with read_snapshot(session_factory) as snapshot, snapshot() as session:
        groups = await store.sla_figures(
            session, start=window.start, end=window.end, priority=priority, team=team
        )
        at_risk, at_risk_total = await store.cases_at_risk(
            session, now=now, priority=priority, team=team, limit=at_risk_limit
        )
    return SlaReport(groups=groups, at_risk=at_risk, at_risk_total=at_risk_total)


async def outcomes(session_factory: SessionFactory, window: FigureWindow) -> Outcomes:
    """Outcomes of the cases opened in the window."""
    async with session_factory() as session:
        return await store.outcomes(session, start=window.start, end=window.end)


async def satisfaction(
    session_factory: SessionFactory,
    window: FigureWindow,
    *,
    bucket: Bucket,
    max_buckets: int,
    min_answers: int,
) -> list[SatisfactionPeriod]:
    """Satisfaction per period of the window (aligned in its time zone), with each period's
    flags; refuses more than ``max_buckets`` periods."""
    check_range(window.start, window.end, bucket, max_buckets)
    async with session_factory() as session:
        rows = await store.satisfaction(
            session,
            start=window.start,
            end=window.end,
            bucket=bucket.value,
            time_zone=window.time_zone.key,
        )
    return [
        satisfaction_period(row["period"].replace(tzinfo=window.time_zone), row, min_answers)
        for row in rows
    ]


async def customers(
    session_factory: SessionFactory, window: FigureWindow, *, min_complaints: int, limit: int
) -> CustomerFigures:
    """Repeat complainers and complaints per customer tier, for the window's complaints."""
    async with session_factory() as session:
        repeat, repeat_total, all_customers = await store.repeat_complainers(
            session,
            start=window.start,
            end=window.end,
            min_complaints=min_complaints,
            limit=limit,
        )
        tiers = await store.complaints_per_tier(session, start=window.start, end=window.end)
    return CustomerFigures(
        repeat=repeat, repeat_total=repeat_total, customers=all_customers, tiers=tiers
    )
