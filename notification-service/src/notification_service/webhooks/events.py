"""Event builders of webhooks: telling an owner that their endpoint was switched off."""

from __future__ import annotations

import uuid
from datetime import datetime

from redress_shared.events import WEBHOOK_DISABLED, EventEnvelope, WebhookDisabledV1, new_event

from notification_service.config import EVENT_SOURCE


def webhook_disabled(
    subscription_id: uuid.UUID,
    *,
    owner_key_id: uuid.UUID | None,
    cause: str,
    reason: str,
    failing_since: datetime | None,
    consecutive_failures: int,
    last_status_code: int | None,
    now: datetime,
) -> EventEnvelope:
    """``redress.notification.webhook_disabled.v1`` for the subscription's owner."""
    payload = WebhookDisabledV1(
        webhook_id=subscription_id,
        owner_key_id=owner_key_id,
        reason=reason,
        cause=cause,
        failing_since=failing_since,
        consecutive_failures=consecutive_failures,
        last_status_code=last_status_code,
        occurred_at=now,
    )
    return new_event(
        source=EVENT_SOURCE,
        type=WEBHOOK_DISABLED,
        key=str(subscription_id),
        subject=str(subscription_id),
        payload=payload,
        time=now,
    )
