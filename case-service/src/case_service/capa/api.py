"""HTTP entrypoints for corrective and preventive actions (``/v1/corrective-actions``)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, status
from redress_shared.auth import AUTH_RESPONSES, Principal, require_scope
from redress_shared.errors import ProblemDetail
from redress_shared.runtime import RuntimeDep

from case_service.capa import service
from case_service.capa.model import CapaStatus
from case_service.capa.schemas import (
    CorrectiveActionCreate,
    CorrectiveActionRead,
    CorrectiveActionUpdate,
)

CAPA_WRITE_SCOPE = "capa:write"
CapaReader = Annotated[Principal, Depends(require_scope("cases:read"))]
CapaWriter = Annotated[Principal, Depends(require_scope(CAPA_WRITE_SCOPE))]

router = APIRouter(
    prefix="/v1/corrective-actions", tags=["corrective actions"], responses=AUTH_RESPONSES
)

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
    row, case_ids = await service.create_action(
        runtime.session_factory, runtime.clock, created_by=agent.name, **action.model_dump()
    )
    return CorrectiveActionRead.from_row(row, case_ids)


@router.get(
    "", summary="List corrective actions", description="Newest first; filter by status or supplier."
)
async def list_actions(
    runtime: RuntimeDep,
    _: CapaReader,
    status: CapaStatus | None = None,
    supplier: str | None = None,
) -> list[CorrectiveActionRead]:
    found = await service.list_actions(
        runtime.session_factory, status.value if status else None, supplier
    )
    return [CorrectiveActionRead.from_row(row, case_ids) for row, case_ids in found]


@router.get("/{action_id}", summary="Read a corrective action", responses=NOT_FOUND)
async def read_action(
    action_id: uuid.UUID, runtime: RuntimeDep, _: CapaReader
) -> CorrectiveActionRead:
    row, case_ids = await service.get_action(runtime.session_factory, action_id)
    return CorrectiveActionRead.from_row(row, case_ids)


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
    row, case_ids = await service.update_action(
        runtime.session_factory,
        runtime.clock,
        action_id,
        changes=changes,
        add_case_ids=update.add_case_ids,
    )
    return CorrectiveActionRead.from_row(row, case_ids)
