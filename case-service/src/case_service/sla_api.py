"""HTTP entrypoints for SLA configuration: business calendars and SLA policies.

Edits apply to cases opened afterwards: a case keeps the deadlines it was given.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Path
from pydantic import BaseModel, ConfigDict, Field
from redress_shared.auth import AUTH_RESPONSES, Principal, require_scope
from redress_shared.errors import NotFound, Problem, ProblemDetail
from redress_shared.runtime import RuntimeDep

from case_service import sla_config
from case_service.calendars import WEEKDAYS, InvalidCalendar
from case_service.models import Priority

SLA_WRITE_SCOPE = "sla:write"
READ_SCOPE = "cases:read"

SlaReader = Annotated[Principal, Depends(require_scope(READ_SCOPE))]
SlaWriter = Annotated[Principal, Depends(require_scope(SLA_WRITE_SCOPE))]

router = APIRouter(tags=["sla"], responses=AUTH_RESPONSES)
Name = Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$", examples=["bucharest-office"])]
TIME = r"^([01]\d|2[0-3]):[0-5]\d$|^24:00$"


class CalendarWrite(BaseModel):
    """Working hours per weekday (local ``HH:MM``-``HH:MM``, ``24:00`` = midnight) and holidays."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "time_zone": "Europe/Bucharest",
                    "hours": {
                        day: [["09:00", "17:00"]] for day in ("mon", "tue", "wed", "thu", "fri")
                    },
                    "holidays": ["2026-12-01", "2026-12-25"],
                }
            ]
        }
    )

    time_zone: str = Field(examples=["Europe/Bucharest"])
    hours: dict[
        str, list[tuple[Annotated[str, Field(pattern=TIME)], Annotated[str, Field(pattern=TIME)]]]
    ]
    holidays: list[date] = []


class CalendarRead(CalendarWrite):
    """A business calendar."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "bucharest-office",
                    "time_zone": "Europe/Bucharest",
                    "hours": {
                        day: [["09:00", "17:00"]] for day in ("mon", "tue", "wed", "thu", "fri")
                    },
                    "holidays": ["2026-12-01"],
                }
            ]
        }
    )

    name: str


class SlaPolicyWrite(BaseModel):
    """Targets for one priority, in business minutes on a calendar."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "priority": "normal",
                    "acknowledge_within_minutes": 480,
                    "first_response_within_minutes": 960,
                    "resolve_within_minutes": 4800,
                    "calendar": "bucharest-office",
                    "warning_share": 0.8,
                    "statutory_cap_days": 30,
                }
            ]
        }
    )

    priority: Priority
    acknowledge_within_minutes: int = Field(gt=0, le=525_600)
    first_response_within_minutes: int = Field(gt=0, le=525_600)
    resolve_within_minutes: int = Field(gt=0, le=525_600)
    calendar: str = "24x7"
    warning_share: float = Field(default=0.8, gt=0, lt=1)
    statutory_cap_days: int | None = Field(
        default=30, gt=0, le=3650, description="Calendar days from receipt for written complaints."
    )


class SlaPolicyRead(SlaPolicyWrite):
    """An SLA policy."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "normal-default",
                    "priority": "normal",
                    "acknowledge_within_minutes": 1440,
                    "first_response_within_minutes": 2880,
                    "resolve_within_minutes": 20160,
                    "calendar": "24x7",
                    "warning_share": 0.8,
                    "statutory_cap_days": 30,
                }
            ]
        }
    )

    name: str


def _calendar_read(row) -> CalendarRead:  # noqa: ANN001
    return CalendarRead(
        name=row.name, time_zone=row.time_zone, hours=row.hours, holidays=row.holidays
    )


def _minutes(interval: timedelta) -> int:
    return int(interval.total_seconds() // 60)


def _policy_read(row) -> SlaPolicyRead:  # noqa: ANN001
    return SlaPolicyRead(
        name=row.name,
        priority=row.priority,
        acknowledge_within_minutes=_minutes(row.acknowledge_within),
        first_response_within_minutes=_minutes(row.first_response_within),
        resolve_within_minutes=_minutes(row.resolve_within),
        calendar=row.calendar,
        warning_share=row.warning_share,
        statutory_cap_days=row.statutory_cap.days if row.statutory_cap else None,
    )


@router.get("/v1/calendars", summary="List business calendars")
async def list_calendars(runtime: RuntimeDep, _: SlaReader) -> list[CalendarRead]:
    return [_calendar_read(row) for row in await sla_config.list_calendars(runtime.session_factory)]


@router.put(
    "/v1/calendars/{name}",
    summary="Create or replace a business calendar",
    responses={
        422: {"model": ProblemDetail, "description": "Overlapping hours, bad zone or weekday"}
    },
)
async def put_calendar(
    name: Name,
    calendar: CalendarWrite,
    runtime: RuntimeDep,
    _: SlaWriter,
) -> CalendarRead:
    values = {
        "name": name,
        "time_zone": calendar.time_zone,
        "hours": {day: [list(span) for span in spans] for day, spans in calendar.hours.items()},
        "holidays": sorted({day.isoformat() for day in calendar.holidays}),
    }
    try:
        await sla_config.save_calendar(runtime.session_factory, values)
    except InvalidCalendar as exc:
        raise Problem(
            422, "invalid-calendar", "The calendar is not valid", str(exc), weekdays=list(WEEKDAYS)
        ) from exc
    return CalendarRead(**values)


@router.get("/v1/sla-policies", summary="List SLA policies")
async def list_policies(runtime: RuntimeDep, _: SlaReader) -> list[SlaPolicyRead]:
    return [_policy_read(row) for row in await sla_config.list_policies(runtime.session_factory)]


@router.put(
    "/v1/sla-policies/{name}",
    summary="Create or replace an SLA policy",
    description="Applies to cases opened from now on; open cases keep their deadlines.",
    responses={
        409: {"model": ProblemDetail, "description": "Another policy already covers that priority"},
        422: {"model": ProblemDetail, "description": "Unknown calendar or invalid targets"},
    },
)
async def put_policy(
    name: Name,
    policy: SlaPolicyWrite,
    runtime: RuntimeDep,
    _: SlaWriter,
) -> SlaPolicyRead:
    values = {
        "name": name,
        "priority": policy.priority.value,
        "acknowledge_within": timedelta(minutes=policy.acknowledge_within_minutes),
        "first_response_within": timedelta(minutes=policy.first_response_within_minutes),
        "resolve_within": timedelta(minutes=policy.resolve_within_minutes),
        "calendar": policy.calendar,
        "warning_share": policy.warning_share,
        "statutory_cap": timedelta(days=policy.statutory_cap_days)
        if policy.statutory_cap_days
        else None,
    }
    try:
        await sla_config.save_policy(runtime.session_factory, values)
    except sla_config.UnknownCalendar as exc:
        raise Problem(
            422,
            "unknown-calendar",
            "Unknown calendar",
            f"No calendar named {policy.calendar!r}",
        ) from exc
    except sla_config.PriorityAlreadyCovered as exc:
        raise Problem(
            409,
            "conflict",
            "Another policy covers this priority",
            f"Edit that policy instead of {name!r}",
        ) from exc
    return SlaPolicyRead(name=name, **policy.model_dump())


@router.get(
    "/v1/calendars/{name}",
    summary="Read a business calendar",
    responses={404: {"model": ProblemDetail}},
)
async def read_calendar(name: str, runtime: RuntimeDep, _: SlaReader) -> CalendarRead:
    row = await sla_config.get_calendar(runtime.session_factory, name)
    if row is None:
        raise NotFound("calendar", name)
    return _calendar_read(row)
