"""Webhook use cases, one transaction each.

Subscriptions are managed over the API; the consumer turns each case or alert event into
one delivery row per matching enabled subscription, in its own transaction (unique per
subscription and event, so a redelivered event adds nothing); the dispatchers claim due
deliveries in a short transaction (at most ``webhook_endpoint_concurrency`` open claims per
endpoint), send each with no transaction open, and record every attempt and the endpoint's
health in a second transaction, only while the claim holds; an endpoint that fails for too long is switched off and its owner
told by event, in the transaction of the attempt that crossed the line.
"""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from redress_shared.clock import Clock
from redress_shared.db import SessionFactory
from redress_shared.errors import NotFound
from redress_shared.events import NOTIFICATIONS_TOPIC, EventEnvelope
from redress_shared.observability import bind_correlation_id
from redress_shared.outbox import add_to_outbox
from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncSession

from notification_service import tables
from notification_service.adapters.http import WebhookSender, resolve_safely
from notification_service.config import NotificationSettings
from notification_service.webhooks import events, store
from notification_service.webhooks.model import (
    DISABLED_THROUGH_API,
    AttemptResult,
    OutgoingWebhook,
    SecretBox,
    WebhookDisabled,
    attempt_change,
    check_replay_range,
    claim_seconds,
    delivery_message_id,
    filter_matches,
    generate_secret,
    payload_body,
    reason_to_disable,
    reset_on_enable,
    secret_box,
    signature_header,
)

log = structlog.get_logger(__name__)


def _secret_box(settings: NotificationSettings) -> SecretBox:
    return secret_box(settings.webhook_secrets_key or settings.admin_api_key)


async def _subscription(session: AsyncSession, webhook_id: uuid.UUID, lock: bool = False) -> Row:
    row = await store.subscription(session, webhook_id, lock)
    if row is None:
        raise NotFound("webhook", webhook_id)
    return row


async def create_webhook(
    session_factory: SessionFactory,
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
    await resolve_safely(url, settings.webhook_allow_private_networks)
    secret = generate_secret()
    sealed = _secret_box(settings).seal(secret)
    now = clock.now()
    async with session_factory() as session, session.begin():
        row = await store.insert_subscription(
            session,
            {
                "id": uuid.uuid4(),
                "url": url,
                "event_types": event_types,
                "description": description,
                "enabled": enabled,
                "owner_key_id": owner_key_id,
                "secret_sealed": sealed,
                "created_at": now,
                "updated_at": now,
            },
        )
    log.info("webhook_created", webhook_id=str(row.id), event_types=event_types)
    return row, secret


async def list_webhooks(session_factory: SessionFactory) -> list[Row]:
    """Every webhook subscription, oldest first."""
    async with session_factory() as session:
        return await store.all_subscriptions(session)


async def get_webhook(session_factory: SessionFactory, webhook_id: uuid.UUID) -> Row:
    """One webhook subscription, or NotFound."""
    async with session_factory() as session:
        return await _subscription(session, webhook_id)


async def update_webhook(
    session_factory: SessionFactory,
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
        await resolve_safely(changes["url"], settings.webhook_allow_private_networks)
    async with session_factory() as session, session.begin():
        await _subscription(session, webhook_id, lock=True)
        values = {**changes, "updated_at": clock.now()}
        if changes.get("enabled") is True:
            values.update(reset_on_enable())
        elif changes.get("enabled") is False:
            values.update(disabled_reason=DISABLED_THROUGH_API, disabled_at=values["updated_at"])
        return await store.update_subscription(session, webhook_id, values)


async def delete_webhook(session_factory: SessionFactory, webhook_id: uuid.UUID) -> None:
    """Remove a subscription with its deliveries and their attempts."""
    async with session_factory() as session, session.begin():
        deleted = await store.delete_subscription(session, webhook_id)
    if not deleted:
        raise NotFound("webhook", webhook_id)


async def rotate_webhook_secret(
    session_factory: SessionFactory,
    clock: Clock,
    settings: NotificationSettings,
    webhook_id: uuid.UUID,
    overlap_seconds: float | None = None,
) -> tuple[Row, str]:
    """Give the subscription a new secret; the old one keeps signing for the overlap period."""
    box = _secret_box(settings)
    overlap = settings.webhook_secret_rotation_overlap_seconds
    if overlap_seconds is not None:
        overlap = overlap_seconds
    secret = generate_secret()
    now = clock.now()
    async with session_factory() as session, session.begin():
        current = await _subscription(session, webhook_id, lock=True)
        row = await store.update_subscription(
            session,
            webhook_id,
            {
                "secret_sealed": box.seal(secret),
                "previous_secret_sealed": current.secret_sealed if overlap > 0 else None,
                "previous_secret_expires_at": (
                    now + timedelta(seconds=overlap) if overlap > 0 else None
                ),
                "updated_at": now,
            },
        )
    log.info("webhook_secret_rotated", webhook_id=str(webhook_id), overlap_seconds=overlap)
    return row, secret


async def plan_webhook_deliveries(
    session: AsyncSession, clock: Clock, *events: EventEnvelope
) -> int:
    """In the consumer's transaction: one delivery per event and enabled subscription whose
    filter matches; the filters are read once and the deliveries inserted with one statement
    for the whole batch of events; return how many. Unique on (subscription, event), so a
    redelivered event never doubles a delivery."""
    candidates = await store.enabled_filters(session)
    now = clock.now()
    rows = []
    for event in events:
        matching = [row.id for row in candidates if filter_matches(row.event_types, event.type)]
        if not matching:
            continue
        body = payload_body(event)
        rows += [
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
    await store.insert_deliveries(session, rows)
    return len(rows)


@dataclass(frozen=True)
class ClaimedDelivery:
    """A delivery a dispatcher has claimed (with its endpoint's URL and sealed secrets), and
    the claim it holds."""

    row: Row
    claim_id: uuid.UUID


async def claim_due_deliveries(
    session_factory: SessionFactory, clock: Clock, settings: NotificationSettings, limit: int
) -> list[ClaimedDelivery]:
    """Claim up to ``limit`` due deliveries in a short transaction of its own, at most
    ``webhook_endpoint_concurrency`` open per endpoint across replicas; a claim lasts
    :func:`claim_seconds` (a claim left by a process that died is then taken again)."""
    return await record_and_claim(session_factory, clock, settings, [], limit)


async def record_and_claim(
    session_factory: SessionFactory,
    clock: Clock,
    settings: NotificationSettings,
    attempts: list[tuple[ClaimedDelivery, AttemptResult]],
    limit: int,
) -> list[ClaimedDelivery]:
    """A dispatcher's cycle in one short transaction (no request inside it): record the
    finished attempts (:func:`record_attempt_outcomes`), then claim up to ``limit`` due
    deliveries (:func:`claim_due_deliveries`): one commit for both."""
    _, claimed = await _record_and_claim(session_factory, clock, settings, attempts, limit)
    return claimed


async def attempt_claimed(
    session_factory: SessionFactory,
    clock: Clock,
    sender: WebhookSender,
    settings: NotificationSettings,
    claimed: ClaimedDelivery,
    in_flight: Counter[uuid.UUID] | None = None,
) -> None:
    """Make one attempt of a claimed delivery with no transaction open (:func:`attempt_only`),
    then record it in a transaction of its own (:func:`record_attempt_outcomes`)."""
    result = await attempt_only(clock, sender, settings, claimed, in_flight)
    await record_attempt_outcomes(session_factory, clock, settings, [(claimed, result)])


async def attempt_only(
    clock: Clock,
    sender: WebhookSender,
    settings: NotificationSettings,
    claimed: ClaimedDelivery,
    in_flight: Counter[uuid.UUID] | None = None,
) -> AttemptResult:
    """Sign and send one claimed delivery (no transaction is open: nothing is written here).
    Every attempt carries the same ``webhook-id``, so a receiver deduplicates a re-send."""
    row = claimed.row
    bind_correlation_id(row.correlation_id)
    now = clock.now()
    try:
        box = _secret_box(settings)
        secrets_in_use = [box.open(row.secret_sealed)]
        if row.previous_secret_sealed and (row.previous_secret_expires_at or now) > now:
            secrets_in_use.append(box.open(row.previous_secret_sealed))
    except Exception as exc:  # the secrets key changed: nothing can be signed, do not loop
        error = f"the signing secret cannot be decrypted ({type(exc).__name__}); rotate it"
        return AttemptResult("failed", 0, error=error)
    message_id = delivery_message_id(row.id)
    timestamp = int(now.timestamp())
    in_flight = in_flight if in_flight is not None else Counter()
    in_flight[row.subscription_id] += 1
    try:
        return await sender.send(
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


async def record_attempt_outcomes(
    session_factory: SessionFactory,
    clock: Clock,
    settings: NotificationSettings,
    attempts: list[tuple[ClaimedDelivery, AttemptResult]],
) -> list[bool]:
    """Record attempts of claimed deliveries and release their claims in one transaction:
    two statements for any batch, plus the health of endpoints that failed or recovered.
    False for an attempt whose claim no longer holds (its late result is dropped)."""
    recorded, _ = await _record_and_claim(session_factory, clock, settings, attempts, 0)
    return recorded


async def _record_and_claim(
    session_factory: SessionFactory,
    clock: Clock,
    settings: NotificationSettings,
    attempts: list[tuple[ClaimedDelivery, AttemptResult]],
    limit: int,
) -> tuple[list[bool], list[ClaimedDelivery]]:
    now = clock.now()
    changes = [
        attempt_change(claimed.row, claimed.claim_id, result, now, settings)
        for claimed, result in attempts
    ]
    claim_id, rows = uuid.uuid4(), []
    async with session_factory() as session, session.begin():
        applied = await store.record_claimed_attempts(session, [change for change, _ in changes])
        recorded = [(claimed.row.id, claimed.claim_id) in applied for claimed, _ in attempts]
        held = [
            (claimed, result, outcome)
            for (claimed, result), (_, outcome), done in zip(
                attempts, changes, recorded, strict=True
            )
            if done
        ]
        await store.insert_attempts(
            session,
            [
                {
                    "delivery_id": claimed.row.id,
                    "attempted_at": now,
                    "status_code": result.status_code,
                    "latency_ms": result.latency_ms,
                    "response_excerpt": result.response_excerpt,
                    "error": result.error,
                    "outcome": outcome,
                }
                for claimed, result, outcome in held
            ],
        )
        # Endpoint health: failures (rare) one by one; a success clears a streak once.
        failed: set[uuid.UUID] = set()
        cleared: set[uuid.UUID] = set()
        for claimed, result, outcome in held:
            _log_attempt(claimed, result, outcome)
            endpoint = claimed.row.subscription_id
            if result.outcome == "delivered":
                streak = claimed.row.consecutive_failures != 0 or endpoint in failed
                if streak and endpoint not in cleared:
                    await store.end_failing_streak(session, endpoint)
                    cleared.add(endpoint)
                    failed.discard(endpoint)
            else:
                failed.add(endpoint)
                cleared.discard(endpoint)
                await _record_endpoint_failure(session, settings, endpoint, result, now)
        if limit > 0:
            until = now + timedelta(seconds=claim_seconds(settings.webhook_timeout_seconds))
            rows = await store.claim_due_deliveries(
                session, now, claim_id, until, limit, settings.webhook_endpoint_concurrency
            )
    for (claimed, _result), done in zip(attempts, recorded, strict=True):
        if not done:
            log.warning("webhook_outcome_of_a_superseded_claim", delivery_id=str(claimed.row.id))
    return recorded, [ClaimedDelivery(row, claim_id) for row in rows]


async def deliver_next_webhook(
    session_factory: SessionFactory,
    clock: Clock,
    sender: WebhookSender,
    settings: NotificationSettings,
    in_flight: Counter[uuid.UUID],
) -> bool:
    """Attempt the next due delivery, if any; return whether there was one (the one-at-a-time
    form of :func:`claim_due_deliveries` + :func:`attempt_claimed`).

    ``in_flight`` counts this process's open requests per endpoint (for observation); the
    endpoint limit itself is the open claims in the database, across replicas.
    """
    claimed = await claim_due_deliveries(session_factory, clock, settings, 1)
    for delivery in claimed:
        await attempt_claimed(session_factory, clock, sender, settings, delivery, in_flight)
    return bool(claimed)


def _log_attempt(claimed: ClaimedDelivery, result: AttemptResult, outcome: str) -> None:
    row = claimed.row
    bind_correlation_id(row.correlation_id)  # recorded in batches, apart from the attempt
    fields = {"delivery_id": str(row.id), "webhook_id": str(row.subscription_id)}
    fields.update(event_type=row.event_type, attempts=row.attempts + 1)
    fields.update(status_code=result.status_code, latency_ms=result.latency_ms)
    if outcome == "delivered":
        log.info("webhook_delivered", **fields)
    else:
        name = "webhook_retry_scheduled" if outcome == "retry" else "webhook_delivery_failed"
        log.warning(name, error=result.error, **fields)


async def _record_endpoint_failure(
    session: AsyncSession,
    settings: NotificationSettings,
    subscription_id: uuid.UUID,
    result: AttemptResult,
    now: datetime,
) -> None:
    """After a failed attempt (in its transaction): extend the endpoint's failing streak and
    disable the subscription if it is gone or has failed for too long."""
    health = await store.extend_failing_streak(session, subscription_id, now)
    if health is None or not health.enabled:
        return
    disable = reason_to_disable(
        result,
        health.failing_since,
        health.consecutive_failures,
        now,
        timedelta(seconds=settings.webhook_disable_after_seconds),
    )
    if disable is None:
        return
    cause, reason = disable
    disabled = await store.switch_off(session, subscription_id, reason, now)
    if disabled is None:
        return
    event = events.webhook_disabled(
        subscription_id,
        owner_key_id=disabled.owner_key_id,
        cause=cause,
        reason=reason,
        failing_since=disabled.failing_since,
        consecutive_failures=disabled.consecutive_failures,
        last_status_code=result.status_code,
        now=now,
    )
    await add_to_outbox(session, tables.platform, NOTIFICATIONS_TOPIC, event)
    log.warning("webhook_disabled", webhook_id=str(subscription_id), cause=cause, reason=reason)


async def list_deliveries(
    session_factory: SessionFactory, webhook_id: uuid.UUID, limit: int
) -> list[tuple[Row, list[Row]]]:
    """A subscription's deliveries, newest first, each with its attempts in order."""
    async with session_factory() as session:
        await _subscription(session, webhook_id)
        rows = await store.deliveries_of(session, webhook_id, limit)
        attempts = await store.attempts_of(session, [row.id for row in rows])
    by_delivery: dict[uuid.UUID, list[Row]] = {row.id: [] for row in rows}
    for attempt in attempts:
        by_delivery[attempt.delivery_id].append(attempt)
    return [(row, by_delivery[row.id]) for row in rows]


async def redeliver(
    session_factory: SessionFactory, clock: Clock, delivery_id: uuid.UUID
) -> tuple[Row, list[Row]]:
    """Queue a delivery again now, with a fresh retry budget (its attempts stay listed)."""
    async with session_factory() as session, session.begin():
        row = await store.delivery(session, delivery_id, lock=True)
        if row is None:
            raise NotFound("delivery", delivery_id)
        subscription = await _subscription(session, row.subscription_id)
        if not subscription.enabled:
            raise WebhookDisabled(subscription.id, subscription.disabled_reason)
        row = await store.requeue_delivery(session, delivery_id, clock.now())
        history = await store.attempts_of(session, [delivery_id])
    log.info("webhook_redelivery_queued", delivery_id=str(delivery_id))
    return row, history


async def replay_deliveries(
    session_factory: SessionFactory,
    clock: Clock,
    webhook_id: uuid.UUID,
    since: datetime,
    until: datetime,
    only_failed: bool,
) -> int:
    """Queue again every delivery of the webhook created in [since, until) (or only the failed
    ones), each with a fresh retry budget; return how many were queued."""
    check_replay_range(since, until)
    async with session_factory() as session, session.begin():
        subscription = await _subscription(session, webhook_id)
        if not subscription.enabled:
            raise WebhookDisabled(webhook_id, subscription.disabled_reason)
        queued = await store.requeue_range(
            session, webhook_id, since, until, only_failed, clock.now()
        )
    log.info("webhook_replay_queued", webhook_id=str(webhook_id), deliveries=queued)
    return queued
