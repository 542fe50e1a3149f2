"""HTTP entrypoints of the supplier defects and the alerts."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Header, Query
from redress_shared.auth import AUTH_RESPONSES
from redress_shared.errors import ProblemDetail
from redress_shared.runtime import RuntimeDep

from analytics_service.alerts import service
from analytics_service.alerts.model import AlertRules
from analytics_service.alerts.schemas import (
    SUPPLIER_CSV_HEADER,
    AlertRead,
    SupplierMonthRead,
    supplier_month_read,
)
from analytics_service.reporting.model import csv_example, resolve_window, wants_csv
from analytics_service.reporting.schemas import AnalyticsReader, csv_response

alerts_router = APIRouter(prefix="/v1/analytics", tags=["analytics"], responses=AUTH_RESPONSES)


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
                    "example": csv_example(
                        SUPPLIER_CSV_HEADER,
                        ("Voltix", "2026-11-01", 31, 20, 12, 0.6, 7, 2, 6, 4, "true"),
                    )
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
    """Upheld defects per supplier and month, against the thresholds."""
    window = resolve_window(
        start, end, tz, now=runtime.clock.now(), default_length=timedelta(days=92)
    )
    months = await service.supplier_defects(
        runtime.session_factory,
        window.start,
        window.end,
        thresholds=AlertRules.from_settings(runtime.settings).thresholds,
    )
    if wants_csv(accept):
        return csv_response(  # type: ignore[return-value]
            SUPPLIER_CSV_HEADER,
            ([getattr(month, column) for column in SUPPLIER_CSV_HEADER] for month in months),
        )
    return [supplier_month_read(month) for month in months]


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
    """Alerts, newest first, each incident with its member complaints."""
    found = await service.list_alerts(runtime.session_factory, active_only=active, kind=kind)
    return [
        AlertRead.model_validate(row).model_copy(update={"members": members})
        for row, members in found
    ]
