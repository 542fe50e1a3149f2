"""HTTP entrypoints for teams, routing rules and case assignment."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Response
from redress_shared.auth import AUTH_RESPONSES, Principal, require_scope
from redress_shared.errors import ProblemDetail
from redress_shared.runtime import RuntimeDep
from redress_shared.web import ExpectedVersion, set_etag

from case_service.cases.api import CaseWriter
from case_service.cases.schemas import CaseRead
from case_service.routing import service
from case_service.routing.schemas import (
    AssignmentCreate,
    RoutingRuleCreate,
    RoutingRuleRead,
    TeamCreate,
    TeamRead,
)

ROUTING_WRITE_SCOPE = "routing:write"
RoutingReader = Annotated[Principal, Depends(require_scope("cases:read"))]
RoutingWriter = Annotated[Principal, Depends(require_scope(ROUTING_WRITE_SCOPE))]
TeamName = Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$", examples=["billing"])]

router = APIRouter(tags=["routing"], responses=AUTH_RESPONSES)


@router.get("/v1/teams", summary="List teams")
async def list_teams(runtime: RuntimeDep, _: RoutingReader) -> list[TeamRead]:
    return [
        TeamRead.model_validate(row) for row in await service.list_teams(runtime.session_factory)
    ]


@router.put("/v1/teams/{name}", summary="Create or change a team")
async def put_team(
    name: TeamName, team: TeamCreate, runtime: RuntimeDep, _: RoutingWriter
) -> TeamRead:
    await service.save_team(runtime.session_factory, name, team.lead)
    return TeamRead(name=name, lead=team.lead)


@router.get("/v1/routing-rules", summary="The routing rules, in the order they are tried")
async def list_rules(runtime: RuntimeDep, _: RoutingReader) -> list[RoutingRuleRead]:
    rows = await service.list_routing_rules(runtime.session_factory)
    return [RoutingRuleRead.model_validate(row) for row in rows]


@router.put(
    "/v1/routing-rules",
    summary="Replace the routing rules",
    description="Applies to cases opened from now on. Unmatched cases go to the `general` team.",
    responses={422: {"model": ProblemDetail, "description": "A rule names an unknown team"}},
)
async def put_rules(
    rules: list[RoutingRuleCreate], runtime: RuntimeDep, _: RoutingWriter
) -> list[RoutingRuleRead]:
    await service.replace_routing_rules(
        runtime.session_factory, [rule.model_dump() for rule in rules]
    )
    return [RoutingRuleRead(**rule.model_dump()) for rule in rules]


@router.post(
    "/v1/cases/{case_id}/assignment",
    summary="Reassign or escalate a case",
    description=(
        "Escalating sends the case to the team lead and raises its priority one step; it needs "
        "a reason, as does moving a case away from its current assignee."
    ),
    responses={
        404: {"model": ProblemDetail, "description": "No such case"},
        412: {"model": ProblemDetail, "description": "If-Match is stale"},
        422: {"model": ProblemDetail, "description": "Unknown team or missing reason"},
    },
)
async def assign_case(
    case_id: uuid.UUID,
    body: AssignmentCreate,
    response: Response,
    runtime: RuntimeDep,
    agent: CaseWriter,
    expected: ExpectedVersion,
) -> CaseRead:
    row = await service.assign(
        runtime.session_factory,
        runtime.clock,
        case_id=case_id,
        team=body.team,
        assignee=body.assignee,
        escalate=body.escalate,
        reason=body.reason,
        actor=agent.name,
        expected_version=expected,
    )
    set_etag(response, row.version)
    return CaseRead.from_row(row)
