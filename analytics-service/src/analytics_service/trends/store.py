"""Trend queries over the complaint fact rows."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import String, cast, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from analytics_service import tables
from analytics_service.reporting.model import Bucket
from analytics_service.trends.model import BucketCount, Dimension


def _group_column(group_by: Dimension):  # noqa: ANN202
    # Every dimension, priority included (the case's opening priority, kept on the row), is a
    # column of the fact row: a trend is an index-only scan of the covering receipt-time index.
    dimension = tables.complaint_facts.c[group_by.value]
    return func.coalesce(cast(dimension, String), literal("unknown")).label("group")


async def complaint_totals(
    session: AsyncSession, *, start: datetime, end: datetime, group_by: Dimension
) -> dict[str, int]:
    """Complaints received in [start, end) per group (for the change against a window)."""
    facts = tables.complaint_facts
    group = _group_column(group_by)
    query = (
        select(group, func.count().label("count"))
        .select_from(facts)
        .where(facts.c.received_at >= start, facts.c.received_at < end)
        .group_by(group)
    )
    return {row.group: row.count for row in (await session.execute(query)).all()}


async def complaint_series(
    session: AsyncSession,
    *,
    start: datetime,
    end: datetime,
    bucket: Bucket,
    group_by: Dimension,
    time_zone: ZoneInfo,
) -> list[BucketCount]:
    """Complaint counts per bucket (in ``time_zone``) and group, received in [start, end)."""
    facts = tables.complaint_facts
    local_time = func.timezone(time_zone.key, facts.c.received_at)
    bucket_start = func.date_trunc(bucket.value, local_time).label("bucket_start")
    group = _group_column(group_by)
    query = (
        select(bucket_start, group, func.count().label("count"))
        .select_from(facts)
        .where(facts.c.received_at >= start, facts.c.received_at < end)
        .group_by(bucket_start, group)
        .order_by(bucket_start, group)
    )
    rows = (await session.execute(query)).all()
    return [
        BucketCount(row.bucket_start.replace(tzinfo=time_zone), row.group, row.count)
        for row in rows
    ]
