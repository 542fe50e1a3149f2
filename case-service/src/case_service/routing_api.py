"""HTTP entrypoints for teams, routing rules and case assignment."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Response
from pydantic import BaseModel, ConfigDict, Field
from redress_shared.auth import AUTH_RESPONSES, Principal, require_scope
from redress_shared.errors import Problem, ProblemDetail
from redress_shared.runtime import RuntimeDep

from case_service import assignment, teams
from case_service.api import CaseWriter, IfMatch, expected_version
from case_service.schemas import CaseRead

ROUTING_WRITE_SCOPE = "routing:write"
RoutingReader = Annotated[Principal, Depends(require_scope("cases:read"))]
RoutingWriter = Annotated[Principal, Depends(require_scope(ROUTING_WRITE_SCOPE))]
TeamName = Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$", examples=["billing"])]

router = APIRouter(tags=["routing"], responses=AUTH_RESPONSES)


class TeamWrite(BaseModel):
    """A team and its lead (who receives escalations and breached cases)."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"lead": "billing-lead"}]})

    lead: str = Field(min_length=1, max_length=200)


class TeamRead(TeamWrite):
    """A team."""

    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={"examples": [{"name": "billing", "lead": "billing-lead"}]},
    )

    name: str


class RoutingRuleWrite(BaseModel):
    """Cases matching every given field go to ``team``; rules are tried in list order."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"team": "billing", "category": "billing_error", "language": "ro"}]
        }
    )

    team: str
    category: str | None = None
    product: str | None = None
    language: str | None = None
    channel: str | None = None
    tier: str | None = None


class AssignmentCreate(BaseModel):
    """Move a case to a team and/or agent, or escalate it to the team lead."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"team": "billing", "assignee": "agent-ion", "reason": "Billing question"},
                {"escalate": True, "reason": "Customer threatens legal action"},
            ]
        }
    )

    team: str | None = None
    assignee: str | None = Field(default=None, max_length=200)
    escalate: bool = False
    reason: str | None = Field(default=None, max_length=2000)


@router.get("/v1/teams", summary="List teams")
async def list_teams(runtime: RuntimeDep, _: RoutingReader) -> list[TeamRead]:
    return [TeamRead.model_validate(row) for row in await teams.list_teams(runtime.session_factory)]


@router.put("/v1/teams/{name}", summary="Create or change a team")
async def put_team(
    name: TeamName, team: TeamWrite, runtime: RuntimeDep, _: RoutingWriter
) -> TeamRead:
    await teams.save_team(runtime.session_factory, name, team.lead)
    return TeamRead(name=name, lead=team.lead)


@router.get("/v1/routing-rules", summary="The routing rules, in the order they are tried")
async def list_rules(runtime: RuntimeDep, _: RoutingReader) -> list[RoutingRuleWrite]:
    rows = await teams.list_routing_rules(runtime.session_factory)
    return [RoutingRuleWrite.model_validate(row, from_attributes=True) for row in rows]


@router.put(
    "/v1/routing-rules",
    summary="Replace the routing rules",
    description="Applies to cases opened from now on. Unmatched cases go to the `general` team.",
    responses={422: {"model": ProblemDetail, "description": "A rule names an unknown team"}},
)
async def put_rules(
    rules: list[RoutingRuleWrite], runtime: RuntimeDep, _: RoutingWriter
) -> list[RoutingRuleWrite]:
    try:
        await teams.replace_routing_rules(
            runtime.session_factory, [rule.model_dump() for rule in rules]
        )
    except teams.UnknownTeams as exc:
        raise Problem(
            422, "unknown-team", "Unknown team", f"No team named {', '.join(exc.names)}"
        ) from exc
    return rules


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
    if_match: IfMatch = None,
) -> CaseRead:
    row = await assignment.assign(
        runtime.session_factory,
        runtime.clock,
        case_id=case_id,
        team=body.team,
        assignee=body.assignee,
        escalate=body.escalate,
        reason=body.reason,
        actor=agent.name,
        expected_version=expected_version(if_match),
    )
    runtime.relay.notify()
    response.headers["ETag"] = f'"{row.version}"'
    return CaseRead.from_row(row)
