"""Background loops of the notification service: each iteration calls one use case, and the
loop sleeps only when there was nothing to do.

The two dispatchers keep up to a configured number of sends in flight: an iteration claims
as many due items as there are free slots (one short transaction) and starts one task per
item, which sends it (no transaction open) and records its outcome (a second transaction).
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence

import structlog
from redress_shared.clock import Clock
from redress_shared.db import SessionFactory

from notification_service.adapters.http import WebhookSender
from notification_service.config import NotificationSettings
from notification_service.messages import service as messages
from notification_service.messages.model import Channel, Messaging
from notification_service.webhooks import service as webhooks

log = structlog.get_logger(__name__)


async def _keep_busy(
    name: str,
    slots: int,
    interval: float,
    claim: Callable[[int], Awaitable[Sequence[object]]],
    complete: Callable[[object], Awaitable[object]],
) -> None:
    """Claim work for every free slot and complete each claimed item in its own task; wait
    for a slot when all are busy, and ``interval`` when there was nothing to claim."""
    running: set[asyncio.Task] = set()

    async def guarded(item: object) -> None:
        try:
            await complete(item)
        except Exception:  # noqa: BLE001  the claim expires and the item is taken again
            log.exception("dispatch_failed", dispatcher=name)

    try:
        while True:
            try:
                claimed = await claim(slots - len(running)) if len(running) < slots else []
            except Exception:  # noqa: BLE001  the database is away: try again shortly
                log.exception("dispatch_claim_failed", dispatcher=name)
                await asyncio.sleep(interval)
                continue
            for item in claimed:
                task = asyncio.create_task(guarded(item))
                running.add(task)
                task.add_done_callback(running.discard)
            if len(running) >= slots:
                await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
            elif not claimed:
                if running:
                    await asyncio.wait(
                        running, timeout=interval, return_when=asyncio.FIRST_COMPLETED
                    )
                else:
                    await asyncio.sleep(interval)
    finally:
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)


async def dispatch_messages(
    session_factory: SessionFactory,
    clock: Clock,
    channels: dict[str, Channel],
    settings: NotificationSettings,
) -> None:
    """Send due customer messages, ``dispatch_concurrency`` at a time, forever."""

    async def claim(free: int) -> Sequence[object]:
        return await messages.claim_due_messages(session_factory, clock, settings, free)

    async def complete(item: object) -> None:
        await messages.send_claimed(session_factory, clock, channels, settings, item)  # type: ignore[arg-type]

    await _keep_busy(
        "messages",
        settings.dispatch_concurrency,
        settings.dispatch_interval_seconds,
        claim,
        complete,
    )


async def fire_follow_ups(session_factory: SessionFactory, messaging: Messaging) -> None:
    """Queue the follow-up messages that fall due, forever."""
    while True:
        if not await messages.fire_due_follow_ups(session_factory, messaging):
            await asyncio.sleep(messaging.settings.follow_up_poll_interval_seconds)


async def deliver_webhooks(
    session_factory: SessionFactory,
    clock: Clock,
    sender: WebhookSender,
    settings: NotificationSettings,
    in_flight: Counter[uuid.UUID],
) -> None:
    """Attempt due webhook deliveries, ``webhook_dispatch_concurrency`` at a time (at most
    ``webhook_endpoint_concurrency`` to one endpoint), forever."""

    async def claim(free: int) -> Sequence[object]:
        return await webhooks.claim_due_deliveries(session_factory, clock, settings, free)

    async def complete(item: object) -> None:
        await webhooks.attempt_claimed(session_factory, clock, sender, settings, item, in_flight)  # type: ignore[arg-type]

    await _keep_busy(
        "webhooks",
        settings.webhook_dispatch_concurrency,
        settings.webhook_dispatch_interval_seconds,
        claim,
        complete,
    )
