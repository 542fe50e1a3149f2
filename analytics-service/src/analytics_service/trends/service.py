"""Trend use cases."""

from __future__ import annotations

from redress_shared.db import SessionFactory

from analytics_service.reporting.model import Bucket, FigureWindow, check_range
from analytics_service.trends import store
from analytics_service.trends.model import Dimension, Trend, changes, previous_window, totals_of


async def complaint_trend(
    session_factory: SessionFactory,
    window: FigureWindow,
    *,
    bucket: Bucket,
    group_by: Dimension,
    max_buckets: int,
    compare: bool = True,
) -> Trend:
    """Complaints received in the window per bucket and group, with each group's total and
    (when ``compare``) the change against the window of the same length just before."""
    check_range(window.start, window.end, bucket, max_buckets)
    async with session_factory() as session:
        series = await store.complaint_series(
            session,
            start=window.start,
            end=window.end,
            bucket=bucket,
            group_by=group_by,
            time_zone=window.time_zone,
        )
        totals = totals_of(series)
        if not compare:
            return Trend(series=series, totals=totals)
        previous_start, previous_end = previous_window(window.start, window.end)
        previous = await store.complaint_totals(
            session, start=previous_start, end=previous_end, group_by=group_by
        )
    return Trend(
        series=series,
        totals=totals,
        previous_start=previous_start,
        change=changes(totals, previous),
    )
