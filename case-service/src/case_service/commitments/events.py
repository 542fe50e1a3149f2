"""Event builders of commitments: a promise to the customer was missed."""

from __future__ import annotations

from datetime import datetime

from redress_shared.events import CASE_COMMITMENT_MISSED, CaseCommitmentMissedV1, EventEnvelope
from sqlalchemy import Row

from case_service.cases.events import case_event
from case_service.sla.model import Priority


def commitment_missed_event(
    case: Row, commitment: Row, now: datetime, before: Priority, after: Priority
) -> EventEnvelope:
    """``redress.case.commitment_missed.v1`` of one missed commitment."""
    payload = CaseCommitmentMissedV1(
        case_id=case.id,
        reference=case.reference,
        commitment_id=commitment.id,
        due_at=commitment.due_at,
        occurred_at=now,
        priority_before=before.value,
        priority_after=after.value,
    )
    return case_event(CASE_COMMITMENT_MISSED, case.id, payload, now)
