"""Pure rules of decisions, remedies and satisfaction."""

from __future__ import annotations

from decimal import Decimal

import pytest
from case_service.outcomes.model import (
    Criterion,
    InvalidOutcome,
    RemedyAction,
    RemedyStatus,
    Validity,
    check_decision,
    initial_remedy_status,
    next_remedy_status,
    satisfaction_coefficient,
)


def test_unjustified_needs_explanation_and_way_forward():
    check_decision(Validity.JUSTIFIED, None, None)
    with pytest.raises(InvalidOutcome, match="explanation"):
        check_decision(Validity.UNJUSTIFIED, " ", "a voucher")
    with pytest.raises(InvalidOutcome, match="way forward"):
        check_decision(Validity.UNJUSTIFIED, "the seal was broken", None)


def test_remedy_approval_threshold_and_workflow():
    assert initial_remedy_status(Decimal("100.00"), Decimal("100")) is RemedyStatus.OFFERED
    assert initial_remedy_status(Decimal("100.01"), Decimal("100")) is RemedyStatus.PENDING_APPROVAL
    assert initial_remedy_status(None, Decimal("100")) is RemedyStatus.OFFERED
    assert (
        next_remedy_status(RemedyStatus.PENDING_APPROVAL, RemedyAction.APPROVE)
        is RemedyStatus.OFFERED
    )
    with pytest.raises(InvalidOutcome, match="allowed: approve"):
        next_remedy_status(RemedyStatus.PENDING_APPROVAL, RemedyAction.ACCEPT)


def test_satisfaction_coefficient_is_the_weighted_mean():
    criteria = [
        Criterion("speed", 6, 30),
        Criterion("outcome", 9, 50),
        Criterion("courtesy", 10, 20),
    ]
    assert satisfaction_coefficient(criteria) == Decimal("8.30")
    with pytest.raises(InvalidOutcome, match="1 to 10"):
        satisfaction_coefficient([Criterion("speed", 11, 100)])
    with pytest.raises(InvalidOutcome, match="add up to 100"):
        satisfaction_coefficient([Criterion("speed", 5, 60), Criterion("outcome", 5, 30)])
