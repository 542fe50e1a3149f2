"""Request and response bodies of teams, routing rules and assignment."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class TeamCreate(BaseModel):
    """A team and its lead (who receives escalations and breached cases)."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"lead": "billing-lead"}]})

    lead: str = Field(min_length=1, max_length=200)


class TeamRead(TeamCreate):
    """A team."""

    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={"examples": [{"name": "billing", "lead": "billing-lead"}]},
    )

    name: str


class RoutingRuleCreate(BaseModel):
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


class RoutingRuleRead(RoutingRuleCreate):
    """A routing rule as stored, in the order rules are tried."""

    model_config = ConfigDict(from_attributes=True)


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
