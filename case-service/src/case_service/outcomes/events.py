"""Event builders of outcomes: the validity decision, a remedy's status, the survey."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from redress_shared.events import (
    CASE_DECISION_RECORDED,
    CASE_REMEDY_CHANGED,
    CASE_SATISFACTION_RECORDED,
    CaseDecisionRecordedV1,
    CaseRemedyChangedV1,
    CaseSatisfactionRecordedV1,
    EventEnvelope,
)
from sqlalchemy import Row

from case_service.cases.events import case_event
from case_service.outcomes.model import needs_action


def decision_recorded_event(case: Row, decision: Row, now: datetime) -> EventEnvelope:
    """``redress.case.decision_recorded.v1`` of the decision as stored."""
    payload = CaseDecisionRecordedV1(
        case_id=case.id,
        reference=case.reference,
        complaint_id=case.complaint_id,
        validity=decision.validity,
        root_cause=decision.root_cause,
        category=case.category,
        explanation=decision.explanation,
        way_forward=decision.way_forward,
        decided_by=decision.decided_by,
        occurred_at=now,
    )
    return case_event(CASE_DECISION_RECORDED, case.id, payload, now)


def remedy_changed_event(case: Row, remedy: Row, now: datetime) -> EventEnvelope:
    """``redress.case.remedy_changed.v1`` of the remedy as stored."""
    payload = CaseRemedyChangedV1(
        case_id=case.id,
        reference=case.reference,
        remedy_id=remedy.id,
        remedy_type=remedy.remedy_type,
        status=remedy.status,
        amount=str(remedy.amount) if remedy.amount is not None else None,
        currency=remedy.currency,
        method=remedy.method,
        due_date=remedy.due_date,
        occurred_at=now,
    )
    return case_event(CASE_REMEDY_CHANGED, case.id, payload, now)


def satisfaction_recorded_event(
    case: Row,
    coefficient: Decimal,
    would_recommend: bool | None,
    would_continue: bool | None,
    now: datetime,
) -> EventEnvelope:
    """``redress.case.satisfaction_recorded.v1``, saying whether the score needs action."""
    payload = CaseSatisfactionRecordedV1(
        case_id=case.id,
        reference=case.reference,
        coefficient=str(coefficient),
        needs_action=needs_action(coefficient),
        would_recommend=would_recommend,
        would_continue=would_continue,
        occurred_at=now,
    )
    return case_event(CASE_SATISFACTION_RECORDED, case.id, payload, now)
