"""What a case ends with: the validity decision, remedies and the customer's satisfaction.
Pure domain rules, no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from redress_shared.errors import DomainError


class Validity(StrEnum):
    """Whether the complaint was justified."""

    JUSTIFIED = "justified"
    PARTLY_JUSTIFIED = "partly_justified"
    UNJUSTIFIED = "unjustified"


class InvalidOutcome(DomainError):
    """A decision, remedy or survey that breaks a rule of the complaint desk."""


class IllegalRemedyAction(InvalidOutcome):
    """The action does not apply to the remedy in its current status."""


class SatisfactionAlreadyRecorded(DomainError):
    """A case has one satisfaction survey; it was already recorded."""


def check_decision(validity: Validity, explanation: str | None, way_forward: str | None) -> None:
    """An unjustified complaint still gets an explanation and a way out for the customer."""
    if validity is Validity.UNJUSTIFIED and not (explanation and explanation.strip()):
        raise InvalidOutcome("an unjustified decision needs an explanation for the customer")
    if validity is Validity.UNJUSTIFIED and not (way_forward and way_forward.strip()):
        raise InvalidOutcome("an unjustified decision needs a way forward offered to the customer")


class RemedyType(StrEnum):
    """What the customer is offered."""

    REFUND = "refund"
    REPLACEMENT = "replacement"
    REPAIR = "repair"
    DISCOUNT = "discount"
    CREDIT = "credit"
    UPGRADE = "upgrade"
    APOLOGY_GESTURE = "apology_gesture"
    OTHER = "other"


class RemedyStatus(StrEnum):
    """Where a remedy is."""

    PENDING_APPROVAL = "pending_approval"
    OFFERED = "offered"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    DELIVERED = "delivered"


class RemedyAction(StrEnum):
    """What can happen to a remedy."""

    APPROVE = "approve"
    ACCEPT = "accept"
    DECLINE = "decline"
    DELIVER = "deliver"


REMEDY_TRANSITIONS: dict[tuple[RemedyStatus, RemedyAction], RemedyStatus] = {
    (RemedyStatus.PENDING_APPROVAL, RemedyAction.APPROVE): RemedyStatus.OFFERED,
    (RemedyStatus.OFFERED, RemedyAction.ACCEPT): RemedyStatus.ACCEPTED,
    (RemedyStatus.OFFERED, RemedyAction.DECLINE): RemedyStatus.DECLINED,
    (RemedyStatus.ACCEPTED, RemedyAction.DELIVER): RemedyStatus.DELIVERED,
}


def initial_remedy_status(amount: Decimal | None, approval_threshold: Decimal) -> RemedyStatus:
    """A remedy worth more than the threshold waits for a team lead before it is offered."""
    if amount is not None and amount > approval_threshold:
        return RemedyStatus.PENDING_APPROVAL
    return RemedyStatus.OFFERED


def next_remedy_status(status: RemedyStatus, action: RemedyAction) -> RemedyStatus:
    """The status after ``action``; InvalidOutcome when it does not apply now."""
    target = REMEDY_TRANSITIONS.get((status, action))
    if target is None:
        allowed = [a.value for (s, a) in REMEDY_TRANSITIONS if s is status]
        raise IllegalRemedyAction(
            f"'{action.value}' does not apply to a remedy that is {status.value}; "
            f"allowed: {', '.join(allowed) or 'nothing'}"
        )
    return target


@dataclass(frozen=True)
class Criterion:
    """One satisfaction criterion: a score from 1 to 10 and its weight in percent."""

    name: str
    score: int
    weight: int


SATISFACTION_ACTION_BELOW = Decimal("8")


def needs_action(coefficient: Decimal) -> bool:
    """A satisfaction coefficient below 8 means the handling of the case needs follow-up."""
    return coefficient < SATISFACTION_ACTION_BELOW


def satisfaction_coefficient(criteria: list[Criterion]) -> Decimal:
    """sum(score × weight) / 100, with weights adding up to 100 (the practice's formula)."""
    if not criteria:
        raise InvalidOutcome("at least one criterion is needed")
    if any(not 1 <= c.score <= 10 for c in criteria):
        raise InvalidOutcome("scores run from 1 to 10")
    if any(c.weight <= 0 for c in criteria):
        raise InvalidOutcome("weights must be positive")
    if sum(c.weight for c in criteria) != 100:
        raise InvalidOutcome(f"weights must add up to 100, not {sum(c.weight for c in criteria)}")
    names = [c.name for c in criteria]
    if len(set(names)) != len(names):
        raise InvalidOutcome("each criterion may appear once")
    return (Decimal(sum(c.score * c.weight for c in criteria)) / 100).quantize(Decimal("0.01"))
