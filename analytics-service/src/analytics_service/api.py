"""HTTP entrypoints of the analytics service."""

from __future__ import annotations

import csv
import io
import uuid
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, Depends, Header, Query
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field
from redress_shared.auth import AUTH_RESPONSES, Principal, require_scope
from redress_shared.errors import Problem, ProblemDetail
from redress_shared.runtime import RuntimeDep

from analytics_service import alerts, incidents, service
from analytics_service.models import (
    Bucket,
    Dimension,
    InvalidRange,
    above_threshold,
    previous_window,
    relative_change,
)
from analytics_service.schemas import TrendChange, TrendPoint, TrendRead

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
    previous_start, previous_end = previous_window(start, end)
    previous = await service.complaint_totals(
        runtime.session_factory, start=previous_start, end=previous_end, group_by=group_by
    )
    change = {
        group: TrendChange(
            current=totals.get(group, 0),
            previous=previous.get(group, 0),
            difference=totals.get(group, 0) - previous.get(group, 0),
            relative=relative_change(totals.get(group, 0), previous.get(group, 0)),
        )
        for group in sorted(set(totals) | set(previous))
    }
    return TrendRead(
        bucket=bucket.value,
        group_by=group_by.value,
        time_zone=time_zone.key,
        start=start,
        end=end,
        series=series,
        totals=dict(totals),
        previous_from=previous_start,
        change=change,
    )


alerts_router = APIRouter(prefix="/v1/analytics", tags=["analytics"], responses=AUTH_RESPONSES)


class SupplierMonthRead(BaseModel):
    """One supplier in one month: complaints, decisions and upheld defects by cause."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "supplier": "Voltix",
                    "month": "2026-11-01",
                    "complaints": 31,
                    "decided": 20,
                    "upheld": 12,
                    "upheld_share": 0.6,
                    "supplier_component": 7,
                    "manufacturing": 2,
                    "supplier_component_threshold": 6,
                    "manufacturing_threshold": 4,
                    "above_threshold": True,
                }
            ]
        }
    )

    supplier: str
    month: date
    complaints: int
    decided: int
    upheld: int
    upheld_share: float | None = Field(
        description="Upheld among decided; null before any decision."
    )
    supplier_component: int
    manufacturing: int
    supplier_component_threshold: int
    manufacturing_threshold: int
    above_threshold: bool


class AlertRead(BaseModel):
    """An alert: raised when a watched condition starts, cleared when it ends."""

    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": "5f0e8d7c-6b5a-4948-8372-6a5b4c3d2e1f",
                    "kind": "supplier_defects",
                    "subject": "Voltix",
                    "attribution": "supplier_component",
                    "period_start": "2026-11-01",
                    "period_end": "2026-12-01",
                    "count": 7,
                    "threshold": 6,
                    "raised_at": "2026-11-20T14:03:00Z",
                    "cleared_at": None,
                }
            ]
        },
    )

    id: uuid.UUID
    kind: str
    subject: str
    attribution: str
    period_start: date
    period_end: date
    count: int
    threshold: int
    raised_at: datetime
    cleared_at: datetime | None
    first_member_at: datetime | None = Field(
        default=None, description="Incidents: receipt of the first member complaint."
    )
    last_member_at: datetime | None = Field(
        default=None, description="Incidents: receipt of the latest complaint of the spike."
    )
    members: list[uuid.UUID] | None = Field(
        default=None, description="Incidents: the similar complaints, to answer together."
    )


SUPPLIER_CSV_HEADER = (
    "supplier",
    "month",
    "complaints",
    "decided",
    "upheld",
    "upheld_share",
    "supplier_component",
    "manufacturing",
    "supplier_component_threshold",
    "manufacturing_threshold",
    "above_threshold",
)


@alerts_router.get(
    "/supplier-defects",
    summary="Upheld defects per supplier and month against the thresholds",
    description=(
        "Attribution comes from the root cause recorded with a justified or partly justified "
        "decision: `supplier_component`, or `manufacturing`/`manufacturer_fault`. Defaults: the "
        "last 3 months. Months are calendar months in UTC (the periods the alerts use); `tz` "
        "only says how to read a `from`/`to` without an offset. Send `Accept: text/csv` for CSV."
    ),
    responses={
        200: {
            "content": {
                "text/csv": {
                    "example": ",".join(SUPPLIER_CSV_HEADER)
                    + "\nVoltix,2026-11-01,31,20,12,0.6,7,2,6,4,true\n"
                }
            }
        },
        422: {"model": ProblemDetail, "description": "Bad range or time zone"},
    },
)
async def supplier_defects(
    runtime: RuntimeDep,
    _: AnalyticsReader,
    start: Annotated[datetime | None, Query(alias="from")] = None,
    end: Annotated[datetime | None, Query(alias="to")] = None,
    tz: str = "UTC",
    accept: Annotated[str | None, Header()] = None,
) -> list[SupplierMonthRead]:
    time_zone = _time_zone(tz)
    end = _aware(end, time_zone) or datetime.now(UTC)
    start = _aware(start, time_zone) or end - timedelta(days=92)
    if start >= end:
        raise Problem(
            422, "invalid-range", "The time range is not valid", "'from' must be before 'to'"
        )
    settings = runtime.settings
    rows = await alerts.supplier_defects(runtime.session_factory, start, end)
    months = [
        SupplierMonthRead(
            supplier=row.supplier,
            month=row.month.date(),
            complaints=row.complaints,
            decided=row.decided,
            upheld=row.upheld,
            upheld_share=round(row.upheld / row.decided, 4) if row.decided else None,
            supplier_component=row.supplier_component,
            manufacturing=row.manufacturing,
            supplier_component_threshold=settings.supplier_component_threshold,
            manufacturing_threshold=settings.manufacturing_threshold,
            above_threshold=above_threshold(
                row.supplier_component, settings.supplier_component_threshold
            )
            or above_threshold(row.manufacturing, settings.manufacturing_threshold),
        )
        for row in rows
    ]
    if accept and "text/csv" in accept:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(SUPPLIER_CSV_HEADER)
        for month in months:
            values = month.model_dump(mode="json")
            writer.writerow(
                [
                    str(values[c]).lower() if c == "above_threshold" else values[c]
                    for c in SUPPLIER_CSV_HEADER
                ]
            )
        return Response(buffer.getvalue(), media_type="text/csv")  # type: ignore[return-value]
    return months


@alerts_router.get(
    "/alerts",
    summary="Alerts, newest first",
    description=(
        "Supplier defects above threshold (`kind` = `supplier_defects`, per supplier, "
        "attribution and month) and incidents (`kind` = `incident`: a spike of similar "
        "complaints, `subject` = `category/product` or `category/region`, `attribution` = the "
        "scope, with its member complaints) and satisfaction (`kind` = `satisfaction`, subject "
        "`all`, per flag and UTC month; `count` against `threshold`: hundredths of a point "
        "below 8, or the answers that would not recommend / continue against ⌊2 or 3 × "
        "answers / 10⌋). `active=true` leaves out cleared ones."
    ),
)
async def list_alerts(
    runtime: RuntimeDep,
    _: AnalyticsReader,
    active: bool = False,
    kind: Annotated[
        str | None, Query(description="supplier_defects | incident | satisfaction")
    ] = None,
) -> list[AlertRead]:
    rows = await alerts.list_alerts(runtime.session_factory, active_only=active, kind=kind)
    members = await incidents.members_of(
        runtime.session_factory, [row.id for row in rows if row.kind == incidents.INCIDENT]
    )
    return [
        AlertRead.model_validate(row).model_copy(update={"members": members.get(row.id)})
        for row in rows
    ]
