"""Event builders of customer messages: the final outcome of each message."""

from __future__ import annotations

from datetime import datetime

from redress_shared.events import (
    NOTIFICATION_FAILED,
    NOTIFICATION_SENT,
    EventEnvelope,
    NotificationOutcomeV1,
    new_event,
)
from sqlalchemy import Row

from notification_service.config import EVENT_SOURCE


def notification_outcome(row: Row, now: datetime) -> EventEnvelope:
    """``notification.sent`` or ``notification.failed`` for a message row in its final state."""
    payload = NotificationOutcomeV1(
        notification_id=row.id,
        case_id=row.case_id,
        trigger_event_id=row.trigger_event_id,
        template=row.template,
        channel=row.channel,
        status=row.status,
        attempts=row.attempts,
        occurred_at=now,
        error=row.last_error,
    )
    return new_event(
        source=EVENT_SOURCE,
        type=NOTIFICATION_SENT if row.status == "sent" else NOTIFICATION_FAILED,
        key=str(row.case_id),
        subject=str(row.id),
        payload=payload,
        time=now,
        correlation_id=row.correlation_id,
    )
