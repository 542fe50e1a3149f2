"""HTTP entrypoints for commitments: promises made to the customer, kept or cancelled."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, status
from redress_shared.auth import AUTH_RESPONSES
from redress_shared.errors import ProblemDetail
from redress_shared.runtime import RuntimeDep
from redress_shared.web import ExpectedVersion

from case_service.cases.api import CASE_WRITE_RESPONSES, CaseWriter
from case_service.commitments import service
from case_service.commitments.schemas import (
    CommitmentActionCreate,
    CommitmentCreate,
    CommitmentRead,
)

router = APIRouter(prefix="/v1/cases/{case_id}", tags=["case outcomes"], responses=AUTH_RESPONSES)
COMMON = CASE_WRITE_RESPONSES


@router.post(
    "/commitments",
    status_code=status.HTTP_201_CREATED,
    summary="Record a promise made to the customer",
    description="An open commitment past its deadline is marked missed and escalates the case.",
    responses=COMMON,
)
async def make_commitment(
    case_id: uuid.UUID,
    commitment: CommitmentCreate,
    runtime: RuntimeDep,
    agent: CaseWriter,
    expected: ExpectedVersion,
) -> CommitmentRead:
    row = await service.make_commitment(
        runtime.session_factory,
        runtime.clock,
        case_id=case_id,
        description=commitment.description,
        due_at=commitment.due_at,
        actor=agent.name,
        expected_version=expected,
    )
    return CommitmentRead.model_validate(row)


@router.post(
    "/commitments/{commitment_id}/actions",
    summary="Mark a commitment kept or cancelled",
    responses={**COMMON, 409: {"model": ProblemDetail, "description": "No longer open"}},
)
async def settle_commitment(
    case_id: uuid.UUID,
    commitment_id: uuid.UUID,
    body: CommitmentActionCreate,
    runtime: RuntimeDep,
    agent: CaseWriter,
) -> CommitmentRead:
    row = await service.settle_commitment(
        runtime.session_factory,
        runtime.clock,
        case_id=case_id,
        commitment_id=commitment_id,
        action=body.action,
        actor=agent.name,
    )
    return CommitmentRead.model_validate(row)
