"""What every analytics request shares: the reader's scope, the window query (`from`, `to`,
`tz`), the `Accept` header that asks for CSV, and the CSV response."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import Depends, Header, Query
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field
from redress_shared.auth import Principal, require_scope
from redress_shared.errors import ProblemDetail
from redress_shared.runtime import RuntimeDep

from analytics_service.reporting.model import (
    CSV_MEDIA_TYPE,
    FigureWindow,
    csv_example,
    csv_text,
    resolve_window,
)

READ_SCOPE = "analytics:read"
SCOPES = [READ_SCOPE]

AnalyticsReader = Annotated[Principal, Depends(require_scope(READ_SCOPE))]

BAD_WINDOW = {422: {"model": ProblemDetail, "description": "Bad range or time zone"}}


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
    """The window query every figure takes (`from` must come before `to`)."""
    return resolve_window(
        start, end, tz, now=runtime.clock.now(), default_length=timedelta(days=30)
    )


class WindowRead(BaseModel):
    """The window a figure covers, as every figure's answer starts."""

    model_config = ConfigDict(populate_by_name=True)

    start: datetime = Field(alias="from")
    end: datetime = Field(alias="to")
    time_zone: str


def window_fields(window: FigureWindow) -> dict[str, Any]:
    """The :class:`WindowRead` fields of ``window``."""
    return {"start": window.start, "end": window.end, "time_zone": window.time_zone.key}


WindowDep = Annotated[FigureWindow, Depends(figure_window)]
AcceptHeader = Annotated[str | None, Header(alias="accept")]


def csv_response(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Response:
    """A ``text/csv`` answer: one header line, then one line per row."""
    return Response(csv_text(header, rows), media_type=CSV_MEDIA_TYPE)


def csv_responses(header: Sequence[str], *rows: Sequence[Any]) -> dict:
    """The OpenAPI ``responses`` entry documenting an endpoint's CSV form by example."""
    return {200: {"content": {CSV_MEDIA_TYPE: {"example": csv_example(header, *rows)}}}}
