"""Alert events: an alert raised or cleared, as it now stands."""

from __future__ import annotations

import uuid
from datetime import datetime

from redress_shared.events import AlertV1, EventEnvelope, new_event
from sqlalchemy import Row

from analytics_service.config import EVENT_SOURCE


def alert_event(
    event_type: str, alert: Row, now: datetime, members: list[uuid.UUID] | None = None
) -> EventEnvelope:
    """The ``alert.raised`` / ``alert.cleared`` event of an alert row (an incident with its
    member complaints), keyed by the alert so its events stay in order."""
    payload = AlertV1(
        alert_id=alert.id,
        kind=alert.kind,
        subject=alert.subject,
        attribution=alert.attribution or None,
        period_start=alert.period_start,
        period_end=alert.period_end,
        count=alert.count,
        threshold=alert.threshold,
        occurred_at=now,
        members=members,
    )
    return new_event(
        source=EVENT_SOURCE,
        type=event_type,
        key=str(alert.id),
        subject=str(alert.id),
        payload=payload,
        time=now,
    )
