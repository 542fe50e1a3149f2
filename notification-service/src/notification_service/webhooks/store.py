"""SQL of webhooks: subscriptions, their deliveries and attempts, and endpoint health."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Row, func, or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from notification_service import tables
from notification_service.webhooks.model import AttemptResult

subscriptions = tables.webhook_subscriptions
deliveries = tables.webhook_deliveries
attempts = tables.webhook_attempts


# --- subscriptions -------------------------------------------------------------------------


async def subscription(
    session: AsyncSession, webhook_id: uuid.UUID, lock: bool = False
) -> Row | None:
    """One subscription (locked FOR UPDATE if asked), or None."""
    query = select(subscriptions).where(subscriptions.c.id == webhook_id)
    if lock:
        query = query.with_for_update()
    return (await session.execute(query)).first()


async def insert_subscription(session: AsyncSession, values: dict) -> Row:
    """Store a new subscription; return its row."""
    return (
        await session.execute(insert(subscriptions).values(**values).returning(subscriptions))
    ).one()


async def update_subscription(session: AsyncSession, webhook_id: uuid.UUID, values: dict) -> Row:
    """Change a subscription's columns; return its row."""
    return (
        await session.execute(
            subscriptions.update()
            .where(subscriptions.c.id == webhook_id)
            .values(**values)
            .returning(subscriptions)
        )
    ).one()


async def all_subscriptions(session: AsyncSession) -> list[Row]:
    """Every subscription, oldest first."""
    query = select(subscriptions).order_by(subscriptions.c.created_at)
    return list((await session.execute(query)).all())


async def enabled_filters(session: AsyncSession) -> list[Row]:
    """(id, event_types) of every enabled subscription."""
    query = select(subscriptions.c.id, subscriptions.c.event_types).where(subscriptions.c.enabled)
    return list((await session.execute(query)).all())


async def delete_subscription(session: AsyncSession, webhook_id: uuid.UUID) -> bool:
    """Remove a subscription with its deliveries and their attempts; False if there was none."""
    # Deliveries first, as a dispatcher locks them (delivery, then subscription): taking
    # the subscription first (the cascade) could deadlock with an attempt in flight.
    await session.execute(deliveries.delete().where(deliveries.c.subscription_id == webhook_id))
    result = await session.execute(subscriptions.delete().where(subscriptions.c.id == webhook_id))
    return result.rowcount > 0


# --- deliveries ----------------------------------------------------------------------------


async def insert_deliveries(session: AsyncSession, rows: list[dict]) -> None:
    """Queue deliveries; one per subscription and event, so a redelivered event adds none."""
    await session.execute(
        insert(deliveries)
        .values(rows)
        .on_conflict_do_nothing(constraint="uq_webhook_deliveries_subscription_event")
    )


async def next_due_delivery(
    session: AsyncSession, now: datetime, busy: set[uuid.UUID]
) -> Row | None:
    """The next due delivery of an enabled subscription not in ``busy``, with what signing
    and sending it needs; held with SKIP LOCKED so no other dispatcher takes it."""
    query = (
        select(
            deliveries,
            subscriptions.c.url,
            subscriptions.c.secret_sealed,
            subscriptions.c.previous_secret_sealed,
            subscriptions.c.previous_secret_expires_at,
            subscriptions.c.consecutive_failures,
        )
        .join(subscriptions, subscriptions.c.id == deliveries.c.subscription_id)
        .where(
            deliveries.c.status == "pending",
            deliveries.c.next_attempt_at <= now,
            subscriptions.c.enabled,
        )
        .order_by(deliveries.c.next_attempt_at)
        .limit(1)
        .with_for_update(of=deliveries, skip_locked=True)
    )
    if busy:
        query = query.where(deliveries.c.subscription_id.not_in(busy))
    return (await session.execute(query)).first()


async def claim_endpoint_slot(
    session: AsyncSession, subscription_id: uuid.UUID, slots: int
) -> bool:
    """Take one of ``slots`` transaction-scoped advisory locks of the endpoint, if one is free.

    This bounds deliveries in flight to one endpoint across every dispatcher and replica.
    """
    key = f"webhook-endpoint:{subscription_id}"
    for slot in range(slots):
        if await session.scalar(select(func.pg_try_advisory_xact_lock(func.hashtext(key), slot))):
            return True
    return False


async def record_attempt(
    session: AsyncSession,
    delivery_id: uuid.UUID,
    result: AttemptResult,
    outcome: str,
    attempted_at: datetime,
    values: dict,
) -> None:
    """Keep one attempt of a delivery and update the delivery with ``values``."""
    await session.execute(
        insert(attempts).values(
            delivery_id=delivery_id,
            attempted_at=attempted_at,
            status_code=result.status_code,
            latency_ms=result.latency_ms,
            response_excerpt=result.response_excerpt,
            error=result.error,
            outcome=outcome,
        )
    )
    await session.execute(
        deliveries.update().where(deliveries.c.id == delivery_id).values(**values)
    )


async def delivery(session: AsyncSession, delivery_id: uuid.UUID, lock: bool = False) -> Row | None:
    """One delivery (locked FOR UPDATE if asked), or None."""
    query = select(deliveries).where(deliveries.c.id == delivery_id)
    if lock:
        query = query.with_for_update()
    return (await session.execute(query)).first()


async def requeue_delivery(session: AsyncSession, delivery_id: uuid.UUID, now: datetime) -> Row:
    """Queue a delivery again now with a fresh retry budget; return its row."""
    return (
        await session.execute(
            deliveries.update()
            .where(deliveries.c.id == delivery_id)
            .values(status="pending", attempts=0, next_attempt_at=now, delivered_at=None)
            .returning(deliveries)
        )
    ).one()


async def requeue_range(
    session: AsyncSession,
    webhook_id: uuid.UUID,
    since: datetime,
    until: datetime,
    only_failed: bool,
    now: datetime,
) -> int:
    """Queue again every delivery of the webhook created in [since, until) (or the failed
    ones), each with a fresh retry budget; return how many."""
    conditions = [
        deliveries.c.subscription_id == webhook_id,
        deliveries.c.created_at >= since,
        deliveries.c.created_at < until,
    ]
    if only_failed:
        conditions.append(deliveries.c.status == "failed")
    result = await session.execute(
        deliveries.update()
        .where(*conditions)
        .values(status="pending", attempts=0, next_attempt_at=now, delivered_at=None)
    )
    return result.rowcount


async def attempts_of(session: AsyncSession, delivery_ids: list[uuid.UUID]) -> list[Row]:
    """The attempts of the deliveries, in the order they were made."""
    if not delivery_ids:
        return []
    query = select(attempts).where(attempts.c.delivery_id.in_(delivery_ids)).order_by(attempts.c.id)
    return list((await session.execute(query)).all())


async def deliveries_of(session: AsyncSession, webhook_id: uuid.UUID, limit: int) -> list[Row]:
    """A subscription's deliveries, newest first."""
    query = (
        select(deliveries)
        .where(deliveries.c.subscription_id == webhook_id)
        .order_by(deliveries.c.created_at.desc(), deliveries.c.id)
        .limit(limit)
    )
    return list((await session.execute(query)).all())


# --- endpoint health -----------------------------------------------------------------------


async def end_failing_streak(session: AsyncSession, subscription_id: uuid.UUID) -> None:
    """A success: the endpoint has no failing streak (any more)."""
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


async def extend_failing_streak(
    session: AsyncSession, subscription_id: uuid.UUID, now: datetime
) -> Row | None:
    """A failure: start or extend the streak; return (enabled, failing_since,
    consecutive_failures) after it, or None when the subscription is gone."""
    return (
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


async def switch_off(
    session: AsyncSession, subscription_id: uuid.UUID, reason: str, now: datetime
) -> Row | None:
    """Disable a subscription that is still enabled; return (owner_key_id, failing_since,
    consecutive_failures), or None when it was already off (so the owner is told once)."""
    return (
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
