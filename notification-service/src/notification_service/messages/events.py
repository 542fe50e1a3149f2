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
from notification_service.messages.model import ClaimedChange


def notification_outcome(
    row: Row, now: datetime, change: ClaimedChange | None = None
) -> EventEnvelope:
    """``notification.sent`` or ``notification.failed`` for a message row in its final state,
    or, with ``change``, for a claimed message once the final ``change`` is applied to it."""
    final = row if change is None else change
    payload = NotificationOutcomeV1(
        notification_id=row.id,
        case_id=row.case_id,
        trigger_event_id=row.trigger_event_id,
        template=row.template,
        channel=final.channel,
        status=final.status,
        attempts=final.attempts,
        occurred_at=now,
        error=final.last_error,
    )
    return new_event(
        source=EVENT_SOURCE,
        type=NOTIFICATION_SENT if final.status == "sent" else NOTIFICATION_FAILED,
        key=str(row.case_id),
        subject=str(row.id),
        payload=payload,
        time=now,
        correlation_id=row.correlation_id,
    )
