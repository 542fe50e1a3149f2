"""SQL of webhooks: subscriptions, their deliveries and attempts, and endpoint health."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from redress_shared.db import insert_rows, unnested
from sqlalchemy import DateTime, Integer, Row, Text, func, or_, select
from sqlalchemy.dialects.postgresql import UUID, insert
from sqlalchemy.ext.asyncio import AsyncSession

from notification_service import tables
from notification_service.webhooks.model import AttemptChange

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
    """Queue deliveries; one per subscription and event, so a redelivered event adds none.
    Sent as one batch (SQLAlchemy's insertmanyvalues: a multi-row INSERT per thousand)."""
    if rows:
        await session.execute(
            insert(deliveries).on_conflict_do_nothing(
                constraint="uq_webhook_deliveries_subscription_event"
            ),
            rows,
        )


async def claim_due_deliveries(
    session: AsyncSession,
    now: datetime,
    claim_id: uuid.UUID,
    until: datetime,
    limit: int,
    endpoint_limit: int,
) -> list[Row]:
    """Claim up to ``limit`` due deliveries of enabled subscriptions, never more than
    ``endpoint_limit`` open claims per subscription (across every dispatcher and replica),
    and return them with what signing and sending needs.

    Deliveries and subscriptions other claimers hold right now are skipped (SKIP LOCKED): a
    subscription's row is held (``FOR NO KEY UPDATE``, which consumers inserting deliveries
    do not wait for) while its open claims are counted, so two claimers never both fill the
    last slot. An endpoint with every slot taken is left out of the candidates, so one slow
    receiver holds up no other.
    """
    active = (
        select(deliveries.c.subscription_id, func.count().label("open"))
        .where(
            deliveries.c.claim_id.is_not(None),
            deliveries.c.claimed_until > now,
            deliveries.c.status == "pending",
        )
        .group_by(deliveries.c.subscription_id)
    )
    busy = [
        row.subscription_id
        for row in (await session.execute(active.having(func.count() >= endpoint_limit))).all()
    ]
    candidates_query = (
        select(deliveries.c.id, deliveries.c.subscription_id)
        .join(subscriptions, subscriptions.c.id == deliveries.c.subscription_id)
        .where(
            deliveries.c.status == "pending",
            deliveries.c.next_attempt_at <= now,
            or_(deliveries.c.claimed_until.is_(None), deliveries.c.claimed_until <= now),
            subscriptions.c.enabled,
        )
        .order_by(deliveries.c.next_attempt_at)
        .limit(limit * 2)
        .with_for_update(of=deliveries, skip_locked=True)
    )
    if busy:
        candidates_query = candidates_query.where(deliveries.c.subscription_id.not_in(busy))
    candidates = (await session.execute(candidates_query)).all()
    if not candidates:
        return []
    endpoints = sorted({row.subscription_id for row in candidates})
    held = set(
        (
            await session.scalars(
                select(subscriptions.c.id)
                .where(subscriptions.c.id.in_(endpoints), subscriptions.c.enabled)
                .order_by(subscriptions.c.id)
                .with_for_update(key_share=True, skip_locked=True)
            )
        ).all()
    )
    if not held:
        return []
    open_claims = dict(
        (await session.execute(active.where(deliveries.c.subscription_id.in_(sorted(held))))).all()
    )
    chosen: list[uuid.UUID] = []
    for row in candidates:
        if row.subscription_id in held and open_claims.get(row.subscription_id, 0) < endpoint_limit:
            open_claims[row.subscription_id] = open_claims.get(row.subscription_id, 0) + 1
            chosen.append(row.id)
            if len(chosen) >= limit:
                break
    if not chosen:
        return []
    claimed = await session.execute(
        deliveries.update()
        .where(deliveries.c.id.in_(chosen), subscriptions.c.id == deliveries.c.subscription_id)
        .values(claim_id=claim_id, claimed_until=until)
        .returning(
            deliveries,
            subscriptions.c.url,
            subscriptions.c.secret_sealed,
            subscriptions.c.previous_secret_sealed,
            subscriptions.c.previous_secret_expires_at,
            subscriptions.c.consecutive_failures,
        )
    )
    return sorted(claimed.all(), key=lambda row: row.next_attempt_at)


async def record_claimed_attempts(
    session: AsyncSession, changes: Sequence[AttemptChange]
) -> set[tuple[uuid.UUID, uuid.UUID]]:
    """Apply attempts to claimed deliveries in one statement, each only while its delivery
    is still pending under its claim (the claim is released); return the (delivery id, claim
    id) pairs applied. A change whose claim was superseded (it expired and was taken again),
    whose delivery settled or whose subscription was deleted changes nothing."""
    if not changes:
        return set()
    given = unnested(
        "given",
        id=(UUID(as_uuid=True), [change.id for change in changes]),
        claim_id=(UUID(as_uuid=True), [change.claim_id for change in changes]),
        status=(Text, [change.status for change in changes]),
        attempts=(Integer, [change.attempts for change in changes]),
        last_status_code=(Integer, [change.last_status_code for change in changes]),
        last_error=(Text, [change.last_error for change in changes]),
        delivered_at=(DateTime(timezone=True), [change.delivered_at for change in changes]),
        next_attempt_at=(DateTime(timezone=True), [change.next_attempt_at for change in changes]),
    )
    applied = await session.execute(
        deliveries.update()
        .where(
            deliveries.c.id == given.c.id,
            deliveries.c.claim_id == given.c.claim_id,
            deliveries.c.status == "pending",
        )
        .values(
            status=given.c.status,
            attempts=given.c.attempts,
            last_status_code=given.c.last_status_code,
            last_error=given.c.last_error,
            delivered_at=given.c.delivered_at,
            next_attempt_at=given.c.next_attempt_at,
            claim_id=None,
            claimed_until=None,
        )
        .returning(deliveries.c.id, given.c.claim_id)
    )
    return {(row[0], row[1]) for row in applied}


_ATTEMPT_COLUMNS = (
    "delivery_id",
    "attempted_at",
    "status_code",
    "latency_ms",
    "response_excerpt",
    "error",
    "outcome",
)


async def insert_attempts(session: AsyncSession, rows: list[dict]) -> None:
    """Keep attempts (delivery_id, attempted_at, status_code, latency_ms, response_excerpt,
    error, outcome), in one statement whatever their number."""
    await insert_rows(
        session, attempts, [{name: row[name] for name in _ATTEMPT_COLUMNS} for row in rows]
    )


async def delivery(session: AsyncSession, delivery_id: uuid.UUID, lock: bool = False) -> Row | None:
    """One delivery (locked FOR UPDATE if asked), or None."""
    query = select(deliveries).where(deliveries.c.id == delivery_id)
    if lock:
        query = query.with_for_update()
    return (await session.execute(query)).first()


def _requeued(now: datetime) -> dict:
    """Queued again now with a fresh retry budget; a claim in flight is superseded (its late
    outcome is dropped), so the delivery really goes out again."""
    return {
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": now,
        "delivered_at": None,
        "claim_id": None,
        "claimed_until": None,
    }


async def requeue_delivery(session: AsyncSession, delivery_id: uuid.UUID, now: datetime) -> Row:
    """Queue a delivery again now with a fresh retry budget; return its row."""
    return (
        await session.execute(
            deliveries.update()
            .where(deliveries.c.id == delivery_id)
            .values(**_requeued(now))
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
    result = await session.execute(deliveries.update().where(*conditions).values(**_requeued(now)))
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
