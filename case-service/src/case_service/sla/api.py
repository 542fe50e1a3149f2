"""HTTP entrypoints for SLA configuration: business calendars and SLA policies.

Edits apply to cases opened afterwards: a case keeps the deadlines it was given.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path
from redress_shared.auth import AUTH_RESPONSES, Principal, require_scope
from redress_shared.errors import ProblemDetail
from redress_shared.runtime import RuntimeDep

from case_service.sla import service
from case_service.sla.schemas import CalendarCreate, CalendarRead, SlaPolicyCreate, SlaPolicyRead

SLA_WRITE_SCOPE = "sla:write"
READ_SCOPE = "cases:read"

SlaReader = Annotated[Principal, Depends(require_scope(READ_SCOPE))]
SlaWriter = Annotated[Principal, Depends(require_scope(SLA_WRITE_SCOPE))]

router = APIRouter(tags=["sla"], responses=AUTH_RESPONSES)
Name = Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$", examples=["bucharest-office"])]


@router.get("/v1/calendars", summary="List business calendars")
async def list_calendars(runtime: RuntimeDep, _: SlaReader) -> list[CalendarRead]:
    rows = await service.list_calendars(runtime.session_factory)
    return [CalendarRead.from_row(row) for row in rows]


@router.put(
    "/v1/calendars/{name}",
    summary="Create or replace a business calendar",
    responses={
        422: {"model": ProblemDetail, "description": "Overlapping hours, bad zone or weekday"}
    },
)
async def put_calendar(
    name: Name,
    calendar: CalendarCreate,
    runtime: RuntimeDep,
    _: SlaWriter,
) -> CalendarRead:
    values = calendar.values(name)
    await service.save_calendar(runtime.session_factory, values)
    return CalendarRead(**values)


@router.get("/v1/sla-policies", summary="List SLA policies")
async def list_policies(runtime: RuntimeDep, _: SlaReader) -> list[SlaPolicyRead]:
    rows = await service.list_policies(runtime.session_factory)
    return [SlaPolicyRead.from_row(row) for row in rows]


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
    policy: SlaPolicyCreate,
    runtime: RuntimeDep,
    _: SlaWriter,
) -> SlaPolicyRead:
    await service.save_policy(runtime.session_factory, policy.values(name))
    return SlaPolicyRead(name=name, **policy.model_dump())


@router.get(
    "/v1/calendars/{name}",
    summary="Read a business calendar",
    responses={404: {"model": ProblemDetail}},
)
async def read_calendar(name: str, runtime: RuntimeDep, _: SlaReader) -> CalendarRead:
    return CalendarRead.from_row(await service.get_calendar(runtime.session_factory, name))
