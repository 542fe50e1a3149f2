"""Event builders of a case: what other services read on ``redress.cases.v1``."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel
from redress_shared.events import (
    CASE_OPENED,
    CASE_STATUS_CHANGED,
    CaseDueTimes,
    CaseOpenedV1,
    CaseStatusChangedV1,
    ComplaintReceivedV1,
    EventEnvelope,
    new_event,
)
from sqlalchemy import Row

from case_service.cases.model import Action, Case, CaseState
from case_service.config import EVENT_SOURCE
from case_service.sla.model import DueTimes


def case_event(
    event_type: str, case_id: uuid.UUID, payload: BaseModel, now: datetime
) -> EventEnvelope:
    """An event about one case, keyed by the case so its events stay in order."""
    return new_event(
        source=EVENT_SOURCE,
        type=event_type,
        key=str(case_id),
        subject=str(case_id),
        payload=payload,
        time=now,
    )


def _due_times(due: DueTimes) -> CaseDueTimes:
    return CaseDueTimes(
        acknowledge_by=due.acknowledge_by,
        first_response_by=due.first_response_by,
        resolve_by=due.resolve_by,
    )


def case_opened_event(
    case: Case,
    complaint: ComplaintReceivedV1,
    team: str | None = None,
    customer_tier: str | None = None,
) -> EventEnvelope:
    """The ``redress.case.opened.v1`` event of a newly opened case."""
    payload = CaseOpenedV1(
        case_id=case.id,
        **case.fields(),
        customer=complaint.customer,
        product=complaint.product,
        supplier=complaint.supplier,
        due=_due_times(case.due),
        team=team,
        customer_tier=customer_tier,
    )
    return case_event(CASE_OPENED, case.id, payload, case.opened_at)


def status_changed_event(
    row: Row,
    before: CaseState,
    after: CaseState,
    action: Action,
    actor: str,
    reason: str | None,
    now: datetime,
    due: DueTimes | None = None,
) -> EventEnvelope:
    """The ``redress.case.status_changed.v1`` event of one transition, with the case's
    deadlines after it."""
    payload = CaseStatusChangedV1(
        case_id=row.id,
        reference=row.reference,
        action=action.value,
        from_status=before.status.value,
        to_status=after.status.value,
        version=after.version,
        actor=actor,
        reason=reason,
        merged_into=after.merged_into,
        occurred_at=now,
        due=_due_times(due) if due else None,
    )
    return case_event(CASE_STATUS_CHANGED, row.id, payload, now)
