"""HTTP entrypoints for the decision, remedies, satisfaction and the outcomes read."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, status
from redress_shared.auth import AUTH_RESPONSES
from redress_shared.errors import Problem, ProblemDetail
from redress_shared.runtime import RuntimeDep
from redress_shared.web import ExpectedVersion

from case_service.cases.api import CASE_WRITE_RESPONSES, CaseReader, CaseWriter
from case_service.outcomes import service
from case_service.outcomes.model import Criterion, RemedyAction
from case_service.outcomes.schemas import (
    CaseOutcomesRead,
    DecisionRead,
    DecisionUpdate,
    RemedyActionCreate,
    RemedyCreate,
    RemedyRead,
    SatisfactionCreate,
    SatisfactionRead,
)

APPROVE_SCOPE = "remedies:approve"

router = APIRouter(prefix="/v1/cases/{case_id}", tags=["case outcomes"], responses=AUTH_RESPONSES)
COMMON = CASE_WRITE_RESPONSES


@router.get("/outcomes", summary="Notes, responses, decision, remedies and satisfaction of a case")
async def read_outcomes(case_id: uuid.UUID, runtime: RuntimeDep, _: CaseReader) -> CaseOutcomesRead:
    found = await service.case_outcomes(runtime.session_factory, case_id)
    return CaseOutcomesRead.from_rows(found)


@router.put("/decision", summary="Record the validity decision", responses=COMMON)
async def put_decision(
    case_id: uuid.UUID,
    decision: DecisionUpdate,
    runtime: RuntimeDep,
    agent: CaseWriter,
    expected: ExpectedVersion,
) -> DecisionRead:
    row = await service.record_decision(
        runtime.session_factory,
        runtime.clock,
        case_id=case_id,
        decided_by=agent.name,
        expected_version=expected,
        **decision.model_dump(),
    )
    return DecisionRead.model_validate(row)


@router.post(
    "/remedies",
    status_code=status.HTTP_201_CREATED,
    summary="Propose a remedy",
    description="Above the approval threshold a remedy waits for a team lead (`pending_approval`).",
    responses=COMMON,
)
async def propose_remedy(
    case_id: uuid.UUID,
    remedy: RemedyCreate,
    runtime: RuntimeDep,
    agent: CaseWriter,
    expected: ExpectedVersion,
) -> RemedyRead:
    row = await service.propose_remedy(
        runtime.session_factory,
        runtime.clock,
        case_id=case_id,
        created_by=agent.name,
        approval_threshold=runtime.settings.remedy_approval_threshold,
        expected_version=expected,
        **remedy.model_dump(),
    )
    return RemedyRead.model_validate(row)


@router.post(
    "/remedies/{remedy_id}/actions",
    summary="Approve, accept, decline or deliver a remedy",
    responses={**COMMON, 409: {"model": ProblemDetail, "description": "Not allowed in its status"}},
)
async def act_on_remedy(
    case_id: uuid.UUID,
    remedy_id: uuid.UUID,
    body: RemedyActionCreate,
    runtime: RuntimeDep,
    agent: CaseWriter,
    expected: ExpectedVersion,
) -> RemedyRead:
    if body.action is RemedyAction.APPROVE and not agent.allows(APPROVE_SCOPE):
        raise Problem(
            403,
            "forbidden",
            "The API key lacks the required scope",
            f"Approving a remedy needs the '{APPROVE_SCOPE}' scope (a team lead's key)",
            required_scope=APPROVE_SCOPE,
        )
    row = await service.act_on_remedy(
        runtime.session_factory,
        runtime.clock,
        case_id=case_id,
        remedy_id=remedy_id,
        action=body.action,
        actor=agent.name,
        expected_version=expected,
    )
    return RemedyRead.model_validate(row)


@router.post(
    "/satisfaction",
    status_code=status.HTTP_201_CREATED,
    summary="Record the customer's satisfaction survey",
    responses={**COMMON, 409: {"model": ProblemDetail, "description": "Already recorded"}},
)
async def record_satisfaction(
    case_id: uuid.UUID, survey: SatisfactionCreate, runtime: RuntimeDep, agent: CaseWriter
) -> SatisfactionRead:
    row = await service.record_satisfaction(
        runtime.session_factory,
        runtime.clock,
        case_id=case_id,
        criteria=[Criterion(c.name, c.score, c.weight) for c in survey.criteria],
        would_recommend=survey.would_recommend,
        would_continue=survey.would_continue,
        comment=survey.comment,
        recorded_by=agent.name,
    )
    return SatisfactionRead.from_row(row)
