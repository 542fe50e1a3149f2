"""Event builders of messages: a response to the customer, for the notification service."""

from __future__ import annotations

from datetime import datetime

from redress_shared.events import CASE_RESPONSE_ADDED, CaseResponseAddedV1, EventEnvelope
from sqlalchemy import Row

from case_service.cases.events import case_event


def response_added_event(case: Row, message: Row, now: datetime) -> EventEnvelope:
    """``redress.case.response_added.v1`` of a response as stored."""
    payload = CaseResponseAddedV1(
        case_id=case.id,
        reference=case.reference,
        response_id=message.id,
        message=message.body,
        author=message.author,
        occurred_at=now,
    )
    return case_event(CASE_RESPONSE_ADDED, case.id, payload, now)
