"""HTTP entrypoints for corrective and preventive actions (``/v1/corrective-actions``)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, status
from pydantic import BaseModel, ConfigDict, Field
from redress_shared.auth import AUTH_RESPONSES, Principal, require_scope
from redress_shared.errors import ProblemDetail
from redress_shared.runtime import RuntimeDep

from case_service import capa_service
from case_service.capa import CapaStatus

CAPA_WRITE_SCOPE = "capa:write"
CapaReader = Annotated[Principal, Depends(require_scope("cases:read"))]
CapaWriter = Annotated[Principal, Depends(require_scope(CAPA_WRITE_SCOPE))]

router = APIRouter(
    prefix="/v1/corrective-actions", tags=["corrective actions"], responses=AUTH_RESPONSES
)

EXAMPLE = {
    "id": "3e2d1c0b-a987-4654-8321-0fedcba98765",
    "title": "Supplier defects: Voltix (supplier component)",
    "description": "7 upheld complaints in November (threshold 6).",
    "owner": "quality-lead",
    "due_date": "2026-12-15",
    "status": "in_progress",
    "supplier": "Voltix",
    "product": None,
    "effect": None,
    "source_alert_id": "5f0e8d7c-6b5a-4948-8372-6a5b4c3d2e1f",
    "case_ids": ["0b7f1f7e-7a7b-4f55-9b0a-3d9a7c1c2e11"],
    "created_by": "analytics-alert",
    "created_at": "2026-11-20T14:03:05Z",
    "updated_at": "2026-11-21T09:00:00Z",
    "closed_at": None,
}


class CorrectiveActionCreate(BaseModel):
    """A corrective or preventive action opened by hand."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "title": "Replace capacitor batch 24-17 at Voltix",
                    "owner": "quality-lead",
                    "due_date": "2026-12-15",
                    "supplier": "Voltix",
                    "product": "CH-20",
                    "case_ids": ["0b7f1f7e-7a7b-4f55-9b0a-3d9a7c1c2e11"],
                }
            ]
        }
    )

    title: str = Field(min_length=1, max_length=300)
    description: str | None = Field(default=None, max_length=10_000)
    owner: str | None = Field(default=None, max_length=200)
    due_date: date | None = None
    supplier: str | None = Field(default=None, max_length=300)
    product: str | None = Field(default=None, max_length=300)
    case_ids: list[uuid.UUID] = Field(default_factory=list, max_length=1000)


class CorrectiveActionUpdate(BaseModel):
    """Changes to a corrective action; closing (`done`) needs `effect`."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"status": "done", "effect": "No more capacitor failures since batch 24-18."}
            ]
        },
    )

    description: str | None = Field(default=None, max_length=10_000)
    owner: str | None = Field(default=None, max_length=200)
    due_date: date | None = None
    status: CapaStatus | None = None
    effect: str | None = Field(default=None, max_length=10_000)
    add_case_ids: list[uuid.UUID] = Field(default_factory=list, max_length=1000)


class CorrectiveActionRead(BaseModel):
    """A corrective action with its linked cases."""

    model_config = ConfigDict(json_schema_extra={"examples": [EXAMPLE]})

    id: uuid.UUID
    title: str
    description: str | None
    owner: str | None
    due_date: date | None
    status: CapaStatus
    supplier: str | None
    product: str | None
    effect: str | None
    source_alert_id: uuid.UUID | None
    case_ids: list[uuid.UUID]
    created_by: str
    created_at: datetime
    updated_at: datetime
    closed_at: datetime | None


async def _read(runtime, action_id: uuid.UUID) -> CorrectiveActionRead:  # noqa: ANN001
    row, case_ids = await capa_service.get_action(runtime.session_factory, action_id)
    return CorrectiveActionRead(**row._mapping, case_ids=case_ids)


NOT_FOUND = {404: {"model": ProblemDetail, "description": "No such corrective action"}}


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Open a corrective action",
    responses={422: {"model": ProblemDetail, "description": "Invalid, or an unknown case id"}},
)
async def create_action(
    action: CorrectiveActionCreate, runtime: RuntimeDep, agent: CapaWriter
) -> CorrectiveActionRead:
    action_id = await capa_service.create_action(
        runtime.session_factory, runtime.clock, created_by=agent.name, **action.model_dump()
    )
    return await _read(runtime, action_id)


@router.get(
    "", summary="List corrective actions", description="Newest first; filter by status or supplier."
)
async def list_actions(
    runtime: RuntimeDep,
    _: CapaReader,
    status: CapaStatus | None = None,
    supplier: str | None = None,
) -> list[CorrectiveActionRead]:
    rows = await capa_service.list_actions(
        runtime.session_factory, status.value if status else None, supplier
    )
    return [await _read(runtime, row.id) for row in rows]


@router.get("/{action_id}", summary="Read a corrective action", responses=NOT_FOUND)
async def read_action(
    action_id: uuid.UUID, runtime: RuntimeDep, _: CapaReader
) -> CorrectiveActionRead:
    return await _read(runtime, action_id)


@router.patch(
    "/{action_id}",
    summary="Change, progress or close a corrective action",
    responses={
        **NOT_FOUND,
        409: {"model": ProblemDetail, "description": "Status change not allowed"},
    },
)
async def update_action(
    action_id: uuid.UUID, update: CorrectiveActionUpdate, runtime: RuntimeDep, _: CapaWriter
) -> CorrectiveActionRead:
    changes = update.model_dump(exclude_unset=True, exclude={"add_case_ids"})
    if "status" in changes and changes["status"] is not None:
        changes["status"] = changes["status"].value
    await capa_service.update_action(
        runtime.session_factory,
        runtime.clock,
        action_id,
        changes=changes,
        add_case_ids=update.add_case_ids,
    )
    return await _read(runtime, action_id)
