"""Event builders of SLA clocks: a warning or a breach of one clock of a case."""

from __future__ import annotations

from datetime import datetime

from redress_shared.events import CaseSlaV1, EventEnvelope
from sqlalchemy import Row

from case_service.cases.events import case_event
from case_service.sla.model import Priority, SlaClock


def sla_event(
    event_type: str,
    case: Row,
    sla_clock: SlaClock,
    now: datetime,
    before: Priority,
    after: Priority,
) -> EventEnvelope:
    """``redress.case.sla_warning.v1`` or ``redress.case.sla_breached.v1`` of one clock."""
    payload = CaseSlaV1(
        case_id=case.id,
        reference=case.reference,
        clock=sla_clock.name.value,
        due_at=sla_clock.due_at,
        occurred_at=now,
        priority_before=before.value,
        priority_after=after.value,
    )
    return case_event(event_type, case.id, payload, now)
