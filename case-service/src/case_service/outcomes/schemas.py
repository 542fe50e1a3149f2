"""Request and response bodies of outcomes: the decision, remedies, satisfaction, and the
read of everything recorded on a case."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from case_service.cases.schemas import CASE_ID
from case_service.messages.schemas import MessageRead
from case_service.outcomes.model import RemedyAction, RemedyType, Validity, needs_action


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


class CriterionCreate(BaseModel):
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

    criteria: list[CriterionCreate] = Field(min_length=1, max_length=20)
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

    @classmethod
    def from_row(cls, row) -> SatisfactionRead:  # noqa: ANN001
        """Build from a ``satisfaction_surveys`` row; whether it needs action is the domain's
        rule (``outcomes.model.needs_action``)."""
        return cls(**{**row._mapping, "needs_action": needs_action(row.coefficient)})


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

    @classmethod
    def from_rows(cls, found: dict) -> CaseOutcomesRead:
        """Build from the rows ``case_outcomes`` found."""
        return cls(
            messages=[MessageRead.model_validate(r) for r in found["messages"]],
            decision=DecisionRead.model_validate(found["decision"]) if found["decision"] else None,
            remedies=[RemedyRead.model_validate(r) for r in found["remedies"]],
            satisfaction=SatisfactionRead.from_row(found["satisfaction"])
            if found["satisfaction"]
            else None,
        )
