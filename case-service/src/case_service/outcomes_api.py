"""HTTP entrypoints for notes, responses, the decision, remedies and satisfaction."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Response, status
from pydantic import BaseModel, ConfigDict, Field, model_validator
from redress_shared.auth import AUTH_RESPONSES, Principal, require_scope
from redress_shared.errors import Problem, ProblemDetail
from redress_shared.runtime import RuntimeDep

from case_service import commitments, outcomes_service
from case_service.api import CaseWriter, IfMatch, expected_version
from case_service.outcomes import Criterion, RemedyAction, RemedyType, Validity

APPROVE_SCOPE = "remedies:approve"
CaseReader = Annotated[Principal, Depends(require_scope("cases:read"))]

router = APIRouter(prefix="/v1/cases/{case_id}", tags=["case outcomes"], responses=AUTH_RESPONSES)
COMMON = {
    404: {"model": ProblemDetail, "description": "No such case"},
    412: {"model": ProblemDetail, "description": "If-Match is stale"},
    422: {"model": ProblemDetail, "description": "Invalid or against a complaint-handling rule"},
}
CASE_ID = "0b7f1f7e-7a7b-4f55-9b0a-3d9a7c1c2e11"


class MessageCreate(BaseModel):
    """A note for colleagues, or a response to the customer."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"kind": "response", "body": "We are sending a new charger today."}]
        }
    )

    kind: Literal["note", "response"]
    body: str = Field(min_length=1, max_length=20_000)


class MessageRead(MessageCreate):
    """A note or response as stored."""

    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": "2d1f0c3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f",
                    "case_id": CASE_ID,
                    "kind": "note",
                    "body": "Supplier confirmed a bad batch.",
                    "author": "agent-maria",
                    "created_at": "2026-11-23T11:00:00Z",
                }
            ]
        },
    )

    kind: Literal["note", "response", "customer"] = Field(  # type: ignore[assignment]
        description="`customer`: the customer's own message (a reply by e-mail), "
        "recorded from intake's `complaint.message_received` event."
    )
    id: uuid.UUID
    case_id: uuid.UUID
    author: str
    created_at: datetime


class DecisionUpdate(BaseModel):
    """The validity decision, with the responsible person's opinion and the root cause."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "validity": "unjustified",
                    "explanation": "The charger was used with a 240 V adapter it is not rated for.",
                    "way_forward": "We offer a 30 % discount on a compatible model.",
                    "root_cause": "misuse",
                    "responsible_opinion": "Product team: no defect found on bench test.",
                }
            ]
        }
    )

    validity: Validity
    explanation: str | None = Field(default=None, max_length=5000)
    way_forward: str | None = Field(default=None, max_length=5000)
    root_cause: str | None = Field(default=None, max_length=200)
    responsible_opinion: str | None = Field(default=None, max_length=5000)


class DecisionRead(DecisionUpdate):
    """The decision as recorded."""

    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "case_id": CASE_ID,
                    "validity": "justified",
                    "explanation": None,
                    "way_forward": None,
                    "root_cause": "supplier_component",
                    "responsible_opinion": "Bad capacitor batch from the supplier.",
                    "decided_by": "lead-ion",
                    "decided_at": "2026-11-24T09:00:00Z",
                }
            ]
        },
    )

    case_id: uuid.UUID
    decided_by: str
    decided_at: datetime


class RemedyCreate(BaseModel):
    """A remedy offered to the customer."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "remedy_type": "refund",
                    "amount": "49.90",
                    "currency": "EUR",
                    "method": "bank transfer",
                    "due_date": "2026-11-30",
                    "description": "Full refund of the charger.",
                }
            ]
        }
    )

    remedy_type: RemedyType
    amount: Decimal | None = Field(default=None, ge=0, max_digits=12, decimal_places=2)
    currency: str | None = Field(default=None, pattern=r"^[A-Z]{3}$", description="ISO 4217")
    method: str | None = Field(default=None, max_length=200)
    due_date: date | None = None
    description: str | None = Field(default=None, max_length=2000)

    @model_validator(mode="after")
    def _amount_has_currency(self) -> RemedyCreate:
        if (self.amount is None) != (self.currency is None):
            raise ValueError("amount and currency go together")
        return self


class RemedyRead(RemedyCreate):
    """A remedy and where it stands."""

    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": "7c6b5a49-3827-4615-9a0b-1c2d3e4f5a6b",
                    "case_id": CASE_ID,
                    "remedy_type": "refund",
                    "amount": "249.00",
                    "currency": "EUR",
                    "method": "bank transfer",
                    "due_date": "2026-11-30",
                    "description": None,
                    "status": "pending_approval",
                    "created_by": "agent-maria",
                    "created_at": "2026-11-24T09:30:00Z",
                    "updated_at": "2026-11-24T09:30:00Z",
                }
            ]
        },
    )

    id: uuid.UUID
    case_id: uuid.UUID
    status: str = Field(description="pending_approval | offered | accepted | declined | delivered")
    created_by: str
    created_at: datetime
    updated_at: datetime


class RemedyActionCreate(BaseModel):
    """approve (needs the remedies:approve scope), accept, decline or deliver."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"action": "approve"}]})

    action: RemedyAction


class CriterionIn(BaseModel):
    """One scored criterion."""

    name: str = Field(min_length=1, max_length=100)
    score: int = Field(ge=1, le=10)
    weight: int = Field(gt=0, le=100, description="Percent; all weights add up to 100.")


class SatisfactionCreate(BaseModel):
    """The customer's satisfaction survey."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "criteria": [
                        {"name": "speed", "score": 6, "weight": 30},
                        {"name": "outcome", "score": 9, "weight": 50},
                        {"name": "courtesy", "score": 10, "weight": 20},
                    ],
                    "would_recommend": True,
                    "would_continue": True,
                    "comment": "Slow, but fixed properly.",
                }
            ]
        }
    )

    criteria: list[CriterionIn] = Field(min_length=1, max_length=20)
    would_recommend: bool | None = None
    would_continue: bool | None = None
    comment: str | None = Field(default=None, max_length=5000)


class SatisfactionRead(SatisfactionCreate):
    """A survey with its coefficient (sum of score × weight / 100; below 8 needs action)."""

    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "case_id": CASE_ID,
                    "criteria": [{"name": "outcome", "score": 9, "weight": 100}],
                    "coefficient": "9.00",
                    "needs_action": False,
                    "would_recommend": True,
                    "would_continue": True,
                    "comment": None,
                    "recorded_at": "2026-12-01T10:00:00Z",
                }
            ]
        },
    )

    case_id: uuid.UUID
    coefficient: Decimal
    needs_action: bool
    recorded_at: datetime


class CaseOutcomesRead(BaseModel):
    """Everything recorded on a case besides its status."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"messages": [], "decision": None, "remedies": [], "satisfaction": None}]
        }
    )

    messages: list[MessageRead]
    decision: DecisionRead | None
    remedies: list[RemedyRead]
    satisfaction: SatisfactionRead | None


def _satisfaction(row) -> SatisfactionRead:  # noqa: ANN001
    return SatisfactionRead(
        **{
            **row._mapping,
            "needs_action": row.coefficient < outcomes_service.SATISFACTION_ACTION_BELOW,
        }
    )


def _etag(response: Response, version: int) -> None:
    response.headers["ETag"] = f'"{version}"'


@router.get("/outcomes", summary="Notes, responses, decision, remedies and satisfaction of a case")
async def read_outcomes(case_id: uuid.UUID, runtime: RuntimeDep, _: CaseReader) -> CaseOutcomesRead:
    found = await outcomes_service.case_outcomes(runtime.session_factory, case_id)
    return CaseOutcomesRead(
        messages=[MessageRead.model_validate(r) for r in found["messages"]],
        decision=DecisionRead.model_validate(found["decision"]) if found["decision"] else None,
        remedies=[RemedyRead.model_validate(r) for r in found["remedies"]],
        satisfaction=_satisfaction(found["satisfaction"]) if found["satisfaction"] else None,
    )


@router.post(
    "/messages",
    status_code=status.HTTP_201_CREATED,
    summary="Add an internal note or a response to the customer",
    description="A response meets the first-response SLA and is published for delivery.",
    responses=COMMON,
)
async def add_message(
    case_id: uuid.UUID,
    message: MessageCreate,
    runtime: RuntimeDep,
    agent: CaseWriter,
    if_match: IfMatch = None,
) -> MessageRead:
    row = await outcomes_service.add_message(
        runtime.session_factory,
        runtime.clock,
        case_id=case_id,
        kind=message.kind,
        body=message.body,
        author=agent.name,
        expected_version=expected_version(if_match),
    )
    runtime.relay.notify()
    return MessageRead.model_validate(row)


@router.put("/decision", summary="Record the validity decision", responses=COMMON)
async def put_decision(
    case_id: uuid.UUID,
    decision: DecisionUpdate,
    runtime: RuntimeDep,
    agent: CaseWriter,
    if_match: IfMatch = None,
) -> DecisionRead:
    row = await outcomes_service.record_decision(
        runtime.session_factory,
        runtime.clock,
        case_id=case_id,
        decided_by=agent.name,
        expected_version=expected_version(if_match),
        **decision.model_dump(),
    )
    runtime.relay.notify()
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
    if_match: IfMatch = None,
) -> RemedyRead:
    row = await outcomes_service.propose_remedy(
        runtime.session_factory,
        runtime.clock,
        case_id=case_id,
        created_by=agent.name,
        approval_threshold=runtime.settings.remedy_approval_threshold,
        expected_version=expected_version(if_match),
        **remedy.model_dump(),
    )
    runtime.relay.notify()
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
    if_match: IfMatch = None,
) -> RemedyRead:
    if body.action is RemedyAction.APPROVE and not agent.allows(APPROVE_SCOPE):
        raise Problem(
            403,
            "forbidden",
            "The API key lacks the required scope",
            f"Approving a remedy needs the '{APPROVE_SCOPE}' scope (a team lead's key)",
            required_scope=APPROVE_SCOPE,
        )
    row = await outcomes_service.act_on_remedy(
        runtime.session_factory,
        runtime.clock,
        case_id=case_id,
        remedy_id=remedy_id,
        action=body.action,
        actor=agent.name,
        expected_version=expected_version(if_match),
    )
    runtime.relay.notify()
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
    row = await outcomes_service.record_satisfaction(
        runtime.session_factory,
        runtime.clock,
        case_id=case_id,
        criteria=[Criterion(c.name, c.score, c.weight) for c in survey.criteria],
        would_recommend=survey.would_recommend,
        would_continue=survey.would_continue,
        comment=survey.comment,
        recorded_by=agent.name,
    )
    runtime.relay.notify()
    return _satisfaction(row)


class CommitmentCreate(BaseModel):
    """A promise to the customer with its deadline."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"description": "Call the customer back", "due_at": "2026-11-24T15:00:00Z"}
            ]
        }
    )

    description: str = Field(min_length=1, max_length=1000)
    due_at: datetime = Field(description="With a time zone; must be in the future.")


class CommitmentRead(CommitmentCreate):
    """A commitment and whether it was kept."""

    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": "8b7a6c5d-4e3f-4a2b-9c1d-0e9f8a7b6c5d",
                    "case_id": CASE_ID,
                    "description": "Call the customer back",
                    "due_at": "2026-11-24T15:00:00Z",
                    "status": "open",
                    "created_by": "agent-maria",
                    "created_at": "2026-11-24T10:00:00Z",
                    "settled_at": None,
                }
            ]
        },
    )

    id: uuid.UUID
    case_id: uuid.UUID
    status: str = Field(description="open | kept | missed | cancelled")
    created_by: str
    created_at: datetime
    settled_at: datetime | None


class CommitmentAction(BaseModel):
    """Settle an open commitment."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"action": "keep"}]})

    action: Literal["keep", "cancel"]


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
    if_match: IfMatch = None,
) -> CommitmentRead:
    row = await commitments.make_commitment(
        runtime.session_factory,
        runtime.clock,
        case_id=case_id,
        description=commitment.description,
        due_at=commitment.due_at,
        actor=agent.name,
        expected_version=expected_version(if_match),
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
    body: CommitmentAction,
    runtime: RuntimeDep,
    agent: CaseWriter,
) -> CommitmentRead:
    row = await commitments.settle_commitment(
        runtime.session_factory,
        runtime.clock,
        case_id=case_id,
        commitment_id=commitment_id,
        action=body.action,
        actor=agent.name,
    )
    return CommitmentRead.model_validate(row)
