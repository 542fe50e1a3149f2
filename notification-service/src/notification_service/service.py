"""Webhook use cases (the customer-notification use cases are in ``notifications.py``)."""

from __future__ import annotations

import random
import uuid
from collections import Counter
from datetime import datetime, timedelta

import structlog
from redress_shared.clock import Clock
from redress_shared.errors import NotFound, Problem
from redress_shared.events import EventEnvelope
from redress_shared.observability import bind_correlation_id
from sqlalchemy import Row, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from notification_service import tables, webhooks_health
from notification_service.config import NotificationSettings
from notification_service.webhook_sender import AttemptResult, OutgoingWebhook, WebhookSender
from notification_service.webhooks import (
    SecretBox,
    UnsafeUrl,
    filter_matches,
    generate_secret,
    payload_body,
    resolve_safely,
    signature_header,
)

EVENT_SOURCE = "/redress/notification-service"
log = structlog.get_logger(__name__)


# --- webhooks ---------------------------------------------------------------------------
#
# Subscriptions are managed over the API (one transaction each); the consumer turns each
# case or alert event into one delivery row per matching enabled subscription, in its own
# transaction (unique per subscription and event, so a redelivered event adds nothing); the
# dispatchers send due deliveries one per transaction, holding the row with SKIP LOCKED and
# recording every attempt.


def secret_box(settings: NotificationSettings) -> SecretBox:
    """The box that seals signing secrets at rest (key: the secrets key, else the admin key)."""
    key = settings.webhook_secrets_key or settings.admin_api_key
    if key is None:
        raise Problem(
            503,
            "webhook-secrets-key-missing",
            "Webhook secrets cannot be stored",
            "Set REDRESS_WEBHOOK_SECRETS_KEY (or REDRESS_ADMIN_API_KEY) to encrypt signing secrets.",
        )
    return SecretBox(key.get_secret_value())


async def _check_url(url: str, settings: NotificationSettings) -> None:
    try:
        await resolve_safely(url, settings.webhook_allow_private_networks)
    except UnsafeUrl as exc:
        raise Problem(
            422, "unsafe-webhook-url", "The webhook URL is not allowed", str(exc), url=url
        ) from exc


async def _subscription(session: AsyncSession, webhook_id: uuid.UUID, lock: bool = False) -> Row:
    query = select(tables.webhook_subscriptions).where(
        tables.webhook_subscriptions.c.id == webhook_id
    )
    if lock:
        query = query.with_for_update()
    row = (await session.execute(query)).first()
    if row is None:
        raise NotFound("webhook", webhook_id)
    return row


async def create_webhook(
    session_factory: async_sessionmaker[AsyncSession],
    clock: Clock,
    settings: NotificationSettings,
    *,
    url: str,
    event_types: list[str],
    description: str,
    enabled: bool,
    owner_key_id: uuid.UUID | None = None,
) -> tuple[Row, str]:
    """Subscribe ``url`` to events matching ``event_types``; return the row and the new secret.

    The URL is checked (http(s) only, no internal addresses) before anything is written; the
    secret is stored sealed and returned only here.
    """
    await _check_url(url, settings)
    secret = generate_secret()
    sealed = secret_box(settings).seal(secret)
    now = clock.now()
    async with session_factory() as session, session.begin():
        row = (
            await session.execute(
                insert(tables.webhook_subscriptions)
                .values(
                    id=uuid.uuid4(),
                    url=url,
                    event_types=event_types,
                    description=description,
                    enabled=enabled,
                    owner_key_id=owner_key_id,
                    secret_sealed=sealed,
                    created_at=now,
                    updated_at=now,
                )
                .returning(tables.webhook_subscriptions)
            )
        ).one()
    log.info("webhook_created", webhook_id=str(row.id), event_types=event_types)
    return row, secret


async def list_webhooks(session_factory: async_sessionmaker[AsyncSession]) -> list[Row]:
    """Every webhook subscription, oldest first."""
    subscriptions = tables.webhook_subscriptions
    async with session_factory() as session:
        return list(
            (
                await session.execute(select(subscriptions).order_by(subscriptions.c.created_at))
            ).all()
        )


async def get_webhook(
    session_factory: async_sessionmaker[AsyncSession], webhook_id: uuid.UUID
) -> Row:
    """One webhook subscription, or NotFound."""
    async with session_factory() as session:
        return await _subscription(session, webhook_id)


async def update_webhook(
    session_factory: async_sessionmaker[AsyncSession],
    clock: Clock,
    settings: NotificationSettings,
    webhook_id: uuid.UUID,
    changes: dict,
) -> Row:
    """Change URL, filter, description or enabled flag; a new URL is checked like on create.

    Re-enabling clears the reason the subscription was disabled and its failing streak (the
    disable-after period counts afresh); deliveries still pending resume.
    """
    if "url" in changes:
        await _check_url(changes["url"], settings)
    subscriptions = tables.webhook_subscriptions
    async with session_factory() as session, session.begin():
        await _subscription(session, webhook_id, lock=True)
        values = {**changes, "updated_at": clock.now()}
        if changes.get("enabled") is True:
            values.update(webhooks_health.reset_on_enable())
        elif changes.get("enabled") is False:
            values.update(
                disabled_reason="disabled through the API", disabled_at=values["updated_at"]
            )
        return (
            await session.execute(
                subscriptions.update()
                .where(subscriptions.c.id == webhook_id)
                .values(**values)
                .returning(subscriptions)
            )
        ).one()


async def delete_webhook(
    session_factory: async_sessionmaker[AsyncSession], webhook_id: uuid.UUID
) -> None:
    """Remove a subscription with its deliveries and their attempts."""
    subscriptions = tables.webhook_subscriptions
    async with session_factory() as session, session.begin():
        # Deliveries first, as a dispatcher locks them (delivery, then subscription): taking
        # the subscription first (the cascade) could deadlock with an attempt in flight.
        deliveries = tables.webhook_deliveries
        await session.execute(deliveries.delete().where(deliveries.c.subscription_id == webhook_id))
        result = await session.execute(
            subscriptions.delete().where(subscriptions.c.id == webhook_id)
        )
    if result.rowcount == 0:
        raise NotFound("webhook", webhook_id)


async def rotate_webhook_secret(
    session_factory: async_sessionmaker[AsyncSession],
    clock: Clock,
    settings: NotificationSettings,
    webhook_id: uuid.UUID,
    overlap_seconds: float | None = None,
) -> tuple[Row, str]:
    """Give the subscription a new secret; the old one keeps signing for the overlap period."""
    box = secret_box(settings)
    overlap = settings.webhook_secret_rotation_overlap_seconds
    if overlap_seconds is not None:
        overlap = overlap_seconds
    secret = generate_secret()
    now = clock.now()
    subscriptions = tables.webhook_subscriptions
    async with session_factory() as session, session.begin():
        current = await _subscription(session, webhook_id, lock=True)
        row = (
            await session.execute(
                subscriptions.update()
                .where(subscriptions.c.id == webhook_id)
                .values(
                    secret_sealed=box.seal(secret),
                    previous_secret_sealed=current.secret_sealed if overlap > 0 else None,
                    previous_secret_expires_at=(
                        now + timedelta(seconds=overlap) if overlap > 0 else None
                    ),
                    updated_at=now,
                )
                .returning(subscriptions)
            )
        ).one()
    log.info("webhook_secret_rotated", webhook_id=str(webhook_id), overlap_seconds=overlap)
    return row, secret


async def plan_webhook_deliveries(
    session: AsyncSession, clock: Clock, event: EventEnvelope
) -> None:
    """In the consumer's transaction: one delivery per enabled subscription whose filter matches.

    Unique on (subscription, event), so a redelivered event never doubles a delivery.
    """
    subscriptions = tables.webhook_subscriptions
    candidates = (
        await session.execute(
            select(subscriptions.c.id, subscriptions.c.event_types).where(subscriptions.c.enabled)
        )
    ).all()
    matching = [row.id for row in candidates if filter_matches(row.event_types, event.type)]
    if not matching:
        return
    body = payload_body(event)
    now = clock.now()
    await session.execute(
        insert(tables.webhook_deliveries)
        .values(
            [
                {
                    "id": uuid.uuid4(),
                    "subscription_id": subscription_id,
                    "event_id": event.id,
                    "event_type": event.type,
                    "body": body,
                    "status": "pending",
                    "next_attempt_at": now,
                    "created_at": now,
                    "correlation_id": event.correlation_id,
                }
                for subscription_id in matching
            ]
        )
        .on_conflict_do_nothing(constraint="uq_webhook_deliveries_subscription_event")
    )


def delivery_message_id(delivery_id: uuid.UUID) -> str:
    """The ``webhook-id`` of a delivery: stable across its retries and redeliveries."""
    return f"msg_{delivery_id.hex}"


async def _claim_endpoint_slot(
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


def _retry_delay(settings: NotificationSettings, attempts: int, retry_after: float | None) -> float:
    backoff = settings.webhook_retry_base_seconds * 2 ** (attempts - 1) * random.uniform(0.75, 1.25)
    return min(settings.webhook_retry_max_delay_seconds, max(backoff, retry_after or 0.0))


async def deliver_next_webhook(
    session_factory: async_sessionmaker[AsyncSession],
    clock: Clock,
    sender: WebhookSender,
    settings: NotificationSettings,
    in_flight: Counter[uuid.UUID],
) -> bool:
    """Attempt the next due delivery, if any; return whether there was one.

    ``in_flight`` counts this process's deliveries per endpoint, so that a dispatcher skips
    an endpoint that already has ``webhook_endpoint_concurrency`` requests open (one slow
    receiver never holds up the others); advisory locks extend the limit across replicas.
    """
    deliveries = tables.webhook_deliveries
    subscriptions = tables.webhook_subscriptions
    limit = settings.webhook_endpoint_concurrency
    async with session_factory() as session, session.begin():
        now = clock.now()
        busy = {sub for sub, count in in_flight.items() if count >= limit}
        row = None
        for _ in range(8):
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
            candidate = (await session.execute(query)).first()
            if candidate is None:
                return False
            if in_flight[candidate.subscription_id] < limit and await _claim_endpoint_slot(
                session, candidate.subscription_id, limit
            ):
                row = candidate
                break
            busy.add(candidate.subscription_id)
        if row is None:
            return False
        bind_correlation_id(row.correlation_id)
        try:
            box = secret_box(settings)
            secrets_in_use = [box.open(row.secret_sealed)]
            if row.previous_secret_sealed and (row.previous_secret_expires_at or now) > now:
                secrets_in_use.append(box.open(row.previous_secret_sealed))
        except Exception as exc:  # the secrets key changed: nothing can be signed, do not loop
            error = f"the signing secret cannot be decrypted ({type(exc).__name__}); rotate it"
            await _record_attempt(
                session, clock, settings, row, AttemptResult("failed", 0, error=error)
            )
            return True
        message_id = delivery_message_id(row.id)
        timestamp = int(clock.now().timestamp())
        in_flight[row.subscription_id] += 1
        try:
            result = await sender.send(
                OutgoingWebhook(
                    url=row.url,
                    message_id=message_id,
                    timestamp=timestamp,
                    signature=signature_header(secrets_in_use, message_id, timestamp, row.body),
                    body=row.body,
                )
            )
        finally:
            in_flight[row.subscription_id] -= 1
            if in_flight[row.subscription_id] <= 0:
                del in_flight[row.subscription_id]
        await _record_attempt(session, clock, settings, row, result)
        return True


async def _record_attempt(
    session: AsyncSession,
    clock: Clock,
    settings: NotificationSettings,
    row: Row,
    result: AttemptResult,
) -> None:
    deliveries = tables.webhook_deliveries
    now = clock.now()
    attempts = row.attempts + 1
    outcome = result.outcome
    if outcome == "retry" and attempts >= settings.webhook_max_attempts:
        outcome = "failed"
    await session.execute(
        insert(tables.webhook_attempts).values(
            delivery_id=row.id,
            attempted_at=now,
            status_code=result.status_code,
            latency_ms=result.latency_ms,
            response_excerpt=result.response_excerpt,
            error=result.error,
            outcome=outcome,
        )
    )
    values: dict = {
        "attempts": attempts,
        "last_status_code": result.status_code,
        "last_error": result.error,
    }
    if outcome == "delivered":
        values.update(status="delivered", delivered_at=now)
    elif outcome == "retry":
        delay = _retry_delay(settings, attempts, result.retry_after_seconds)
        values.update(next_attempt_at=now + timedelta(seconds=delay))
    else:
        values.update(status="failed")
    await session.execute(deliveries.update().where(deliveries.c.id == row.id).values(**values))
    log_fields = {
        "delivery_id": str(row.id),
        "webhook_id": str(row.subscription_id),
        "event_type": row.event_type,
        "attempts": attempts,
        "status_code": result.status_code,
        "latency_ms": result.latency_ms,
    }
    if outcome == "delivered":
        log.info("webhook_delivered", **log_fields)
    elif outcome == "retry":
        log.warning("webhook_retry_scheduled", error=result.error, **log_fields)
    else:
        log.warning("webhook_delivery_failed", error=result.error, **log_fields)
    # A dead delivery alone does not switch the endpoint off; days of failures (or 410) do.
    await webhooks_health.record_endpoint_health(
        session, settings, row.subscription_id, result, now, row.consecutive_failures
    )


async def list_deliveries(
    session_factory: async_sessionmaker[AsyncSession], webhook_id: uuid.UUID, limit: int
) -> list[tuple[Row, list[Row]]]:
    """A subscription's deliveries, newest first, each with its attempts in order."""
    deliveries = tables.webhook_deliveries
    attempts = tables.webhook_attempts
    async with session_factory() as session:
        await _subscription(session, webhook_id)
        rows = (
            await session.execute(
                select(deliveries)
                .where(deliveries.c.subscription_id == webhook_id)
                .order_by(deliveries.c.created_at.desc(), deliveries.c.id)
                .limit(limit)
            )
        ).all()
        by_delivery: dict[uuid.UUID, list[Row]] = {row.id: [] for row in rows}
        if rows:
            for attempt in (
                await session.execute(
                    select(attempts)
                    .where(attempts.c.delivery_id.in_(list(by_delivery)))
                    .order_by(attempts.c.id)
                )
            ).all():
                by_delivery[attempt.delivery_id].append(attempt)
    return [(row, by_delivery[row.id]) for row in rows]


async def redeliver(
    session_factory: async_sessionmaker[AsyncSession], clock: Clock, delivery_id: uuid.UUID
) -> tuple[Row, list[Row]]:
    """Queue a delivery again now, with a fresh retry budget (its attempts stay listed)."""
    deliveries = tables.webhook_deliveries
    attempts = tables.webhook_attempts
    async with session_factory() as session, session.begin():
        row = (
            await session.execute(
                select(deliveries).where(deliveries.c.id == delivery_id).with_for_update()
            )
        ).first()
        if row is None:
            raise NotFound("delivery", delivery_id)
        subscription = await _subscription(session, row.subscription_id)
        if not subscription.enabled:
            raise Problem(
                409,
                "webhook-disabled",
                "The webhook is disabled",
                f"Enable webhook {subscription.id} first ({subscription.disabled_reason}).",
            )
        row = (
            await session.execute(
                deliveries.update()
                .where(deliveries.c.id == delivery_id)
                .values(
                    status="pending", attempts=0, next_attempt_at=clock.now(), delivered_at=None
                )
                .returning(deliveries)
            )
        ).one()
        history = (
            await session.execute(
                select(attempts)
                .where(attempts.c.delivery_id == delivery_id)
                .order_by(attempts.c.id)
            )
        ).all()
    log.info("webhook_redelivery_queued", delivery_id=str(delivery_id))
    return row, list(history)


async def replay_deliveries(
    session_factory: async_sessionmaker[AsyncSession],
    clock: Clock,
    webhook_id: uuid.UUID,
    since: datetime,
    until: datetime,
    only_failed: bool,
) -> int:
    """Queue again every delivery of the webhook created in [since, until) (or only the failed
    ones), each with a fresh retry budget; return how many were queued."""
    if until <= since:
        raise Problem(
            422, "invalid-range", "The time range is empty", "'until' must be after 'since'"
        )
    deliveries = tables.webhook_deliveries
    async with session_factory() as session, session.begin():
        subscription = await _subscription(session, webhook_id)
        if not subscription.enabled:
            raise Problem(
                409,
                "webhook-disabled",
                "The webhook is disabled",
                f"Enable webhook {webhook_id} first ({subscription.disabled_reason}).",
            )
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
            .values(status="pending", attempts=0, next_attempt_at=clock.now(), delivered_at=None)
        )
    log.info("webhook_replay_queued", webhook_id=str(webhook_id), deliveries=result.rowcount)
    return result.rowcount
