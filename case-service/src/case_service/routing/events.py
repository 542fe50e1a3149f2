"""Event builders of assignment: a case moved to a team or agent, or escalated."""

from __future__ import annotations

from datetime import datetime

from redress_shared.events import CASE_ASSIGNED, CaseAssignedV1, EventEnvelope
from sqlalchemy import Row

from case_service.cases.events import case_event
from case_service.sla.model import Priority


def assigned_event(
    case: Row,
    *,
    team: str,
    assignee: str | None,
    escalated: bool,
    reason: str | None,
    priority: Priority,
    now: datetime,
) -> EventEnvelope:
    """The ``redress.case.assigned.v1`` event of one move."""
    payload = CaseAssignedV1(
        case_id=case.id,
        reference=case.reference,
        team=team,
        assignee=assignee,
        escalated=escalated,
        reason=reason,
        priority=priority.value,
        occurred_at=now,
    )
    return case_event(CASE_ASSIGNED, case.id, payload, now)
