"""HTTP entrypoints of the analytics service."""

from __future__ import annotations

import csv
import io
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, Depends, Header, Query
from fastapi.responses import Response
from redress_shared.auth import AUTH_RESPONSES, Principal, require_scope
from redress_shared.errors import Problem, ProblemDetail
from redress_shared.runtime import RuntimeDep

from analytics_service import service
from analytics_service.models import Bucket, Dimension, InvalidRange
from analytics_service.schemas import TrendPoint, TrendRead

READ_SCOPE = "analytics:read"
SCOPES = [READ_SCOPE]

AnalyticsReader = Annotated[Principal, Depends(require_scope(READ_SCOPE))]

router = APIRouter(prefix="/v1/analytics", tags=["analytics"], responses=AUTH_RESPONSES)


def _time_zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise Problem(
            422, "unknown-time-zone", "Unknown time zone", f"'{name}' is not an IANA time zone"
        ) from exc


def _aware(moment: datetime | None, time_zone: ZoneInfo) -> datetime | None:
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=time_zone)


@router.get(
    "/trends",
    summary="Complaint counts over time",
    description=(
        "Complaints received in [`from`, `to`) counted per `bucket` and grouped by one dimension. "
        "Buckets are aligned in `tz` (an IANA zone, default UTC); times without an offset are "
        "read in `tz`. Defaults: the last 30 days. Send `Accept: text/csv` for CSV."
    ),
    responses={
        200: {
            "content": {
                "text/csv": {
                    "example": "bucket_start,group,count\n2026-11-23T00:00:00+00:00,product_defect,12\n"
                }
            }
        },
        422: {"model": ProblemDetail, "description": "Bad range, group or time zone"},
    },
)
async def complaint_trends(
    runtime: RuntimeDep,
    _: AnalyticsReader,
    bucket: Bucket = Bucket.DAY,
    group_by: Dimension = Dimension.CATEGORY,
    start: Annotated[datetime | None, Query(alias="from")] = None,
    end: Annotated[datetime | None, Query(alias="to")] = None,
    tz: str = "UTC",
    accept: Annotated[str | None, Header()] = None,
) -> TrendRead:
    time_zone = _time_zone(tz)
    end = _aware(end, time_zone) or datetime.now(UTC)
    start = _aware(start, time_zone) or end - timedelta(days=30)
    try:
        rows = await service.complaint_trend(
            runtime.session_factory,
            start=start,
            end=end,
            bucket=bucket,
            group_by=group_by,
            time_zone=time_zone,
            max_buckets=runtime.settings.max_trend_buckets,
        )
    except InvalidRange as exc:
        raise Problem(422, "invalid-range", "The time range is not valid", str(exc)) from exc
    series = [TrendPoint(bucket_start=b, group=g, count=c) for b, g, c in rows]
    if accept and "text/csv" in accept:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(["bucket_start", "group", "count"])
        for point in series:
            writer.writerow([point.bucket_start.isoformat(), point.group, point.count])
        return Response(buffer.getvalue(), media_type="text/csv")  # type: ignore[return-value]
    totals: Counter[str] = Counter()
    for point in series:
        totals[point.group] += point.count
    return TrendRead(
        bucket=bucket.value,
        group_by=group_by.value,
        time_zone=time_zone.key,
        start=start,
        end=end,
        series=series,
        totals=dict(totals),
    )
