"""Endpoint health of webhook subscriptions: the failing streak, and switching an endpoint
off (with an event telling its owner) when it has failed for too long or answered 410 Gone.

A subscription's streak starts at its first failed attempt after a success (or after it was
re-enabled) and ends at the next success. Each delivery has its own retry budget (about a
day): when that is spent the delivery is dead (``failed``, still listed and redeliverable)
but the endpoint stays on. Only when every attempt for ``webhook_disable_after_seconds``
(5 days by default) has failed is the subscription disabled, in the same transaction as the
attempt that crossed the line, and ``redress.notification.webhook_disabled.v1`` is written to
the outbox exactly once (the update only matches a subscription that is still enabled).
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import structlog
from redress_shared.events import (
    NOTIFICATIONS_TOPIC,
    WEBHOOK_DISABLED,
    WebhookDisabledV1,
    new_event,
)
from redress_shared.outbox import add_to_outbox
from sqlalchemy import func, or_
from sqlalchemy.ext.asyncio import AsyncSession

from notification_service import tables
from notification_service.config import NotificationSettings
from notification_service.webhook_sender import AttemptResult

EVENT_SOURCE = "/redress/notification-service"
log = structlog.get_logger(__name__)


def _duration(seconds: float) -> str:
    if seconds >= 86_400 and seconds % 86_400 == 0:
        days = int(seconds // 86_400)
        return f"{days} day{'s' if days != 1 else ''}"
    if seconds >= 3_600:
        return f"{seconds / 3_600:g} h"
    return f"{seconds:g} s"


async def record_endpoint_health(
    session: AsyncSession,
    settings: NotificationSettings,
    subscription_id: uuid.UUID,
    result: AttemptResult,
    now: datetime,
    failures_seen: int | None = None,
) -> None:
    """After one attempt (in its transaction): end the streak on success, else extend it and
    disable the subscription if it is gone or has failed for too long.

    ``failures_seen`` is the streak length read with the delivery: a success on an endpoint
    that had none skips the write (the common case stays one statement shorter).
    """
    subscriptions = tables.webhook_subscriptions
    if result.outcome == "delivered":
        if failures_seen == 0:
            return
        await session.execute(
            subscriptions.update()
            .where(
                subscriptions.c.id == subscription_id,
                or_(
                    subscriptions.c.failing_since.is_not(None),
                    subscriptions.c.consecutive_failures > 0,
                ),
            )
            .values(failing_since=None, consecutive_failures=0)
        )
        return
    health = (
        await session.execute(
            subscriptions.update()
            .where(subscriptions.c.id == subscription_id)
            .values(
                failing_since=func.coalesce(subscriptions.c.failing_since, now),
                consecutive_failures=subscriptions.c.consecutive_failures + 1,
            )
            .returning(
                subscriptions.c.enabled,
                subscriptions.c.failing_since,
                subscriptions.c.consecutive_failures,
            )
        )
    ).first()
    if health is None or not health.enabled:
        return
    limit = timedelta(seconds=settings.webhook_disable_after_seconds)
    if result.gone:
        cause, reason = "gone", "the endpoint answered 410 Gone"
    elif now - health.failing_since >= limit:
        cause = "failing"
        reason = (
            f"the endpoint failed every attempt for {_duration(limit.total_seconds())} "
            f"({health.consecutive_failures} attempts since "
            f"{health.failing_since:%Y-%m-%d %H:%M} UTC; last: {result.error})"
        )
    else:
        return
    await disable_subscription(
        session,
        subscription_id,
        cause=cause,
        reason=reason,
        last_status_code=result.status_code,
        now=now,
    )


async def disable_subscription(
    session: AsyncSession,
    subscription_id: uuid.UUID,
    *,
    cause: str,
    reason: str,
    last_status_code: int | None,
    now: datetime,
) -> bool:
    """Switch an enabled subscription off and tell its owner by event; False if it was off."""
    subscriptions = tables.webhook_subscriptions
    disabled = (
        await session.execute(
            subscriptions.update()
            .where(subscriptions.c.id == subscription_id, subscriptions.c.enabled)
            .values(enabled=False, disabled_reason=reason, disabled_at=now, updated_at=now)
            .returning(
                subscriptions.c.owner_key_id,
                subscriptions.c.failing_since,
                subscriptions.c.consecutive_failures,
            )
        )
    ).first()
    if disabled is None:
        return False
    payload = WebhookDisabledV1(
        webhook_id=subscription_id,
        owner_key_id=disabled.owner_key_id,
        reason=reason,
        cause=cause,
        failing_since=disabled.failing_since,
        consecutive_failures=disabled.consecutive_failures,
        last_status_code=last_status_code,
        occurred_at=now,
    )
    event = new_event(
        source=EVENT_SOURCE,
        type=WEBHOOK_DISABLED,
        key=str(subscription_id),
        subject=str(subscription_id),
        payload=payload,
        time=now,
    )
    await add_to_outbox(session, tables.platform, NOTIFICATIONS_TOPIC, event)
    log.warning("webhook_disabled", webhook_id=str(subscription_id), cause=cause, reason=reason)
    return True


def reset_on_enable() -> dict:
    """Column values that give a re-enabled subscription a clean slate: a new streak."""
    return {
        "disabled_reason": None,
        "disabled_at": None,
        "failing_since": None,
        "consecutive_failures": 0,
    }
