"""HTTP entrypoint of the complaint trends."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Header, Query
from redress_shared.auth import AUTH_RESPONSES
from redress_shared.errors import ProblemDetail
from redress_shared.runtime import RuntimeDep

from analytics_service.reporting.model import Bucket, resolve_window, wants_csv
from analytics_service.reporting.schemas import AnalyticsReader, csv_response
from analytics_service.trends import service
from analytics_service.trends.model import Dimension
from analytics_service.trends.schemas import TREND_CSV_HEADER, TrendRead

trends_router = APIRouter(prefix="/v1/analytics", tags=["analytics"], responses=AUTH_RESPONSES)


@trends_router.get(
    "/trends",
    summary="Complaint counts over time",
    description=(
        "Complaints received in [`from`, `to`) counted per `bucket` and grouped by one dimension. "
        "Buckets are aligned in `tz` (an IANA zone, default UTC); times without an offset are "
        "read in `tz`. Defaults: the last 30 days. `change` compares each group's total with the "
        "window of the same length just before `from`. `region` is the country of the "
        "customer's phone number (ISO 3166), `unknown` without one. Send `Accept: text/csv` "
        "for CSV."
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
    """Complaint counts per bucket and group, with the change against the window before."""
    window = resolve_window(
        start, end, tz, now=runtime.clock.now(), default_length=timedelta(days=30)
    )
    as_csv = wants_csv(accept)
    trend = await service.complaint_trend(
        runtime.session_factory,
        window,
        bucket=bucket,
        group_by=group_by,
        max_buckets=runtime.settings.max_trend_buckets,
        compare=not as_csv,
    )
    if as_csv:
        return csv_response(  # type: ignore[return-value]
            TREND_CSV_HEADER, ((p.bucket_start, p.group, p.count) for p in trend.series)
        )
    return TrendRead.of(trend, window, bucket, group_by)
