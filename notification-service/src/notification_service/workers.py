"""Background loops of the notification service: each iteration calls one use case, and the
loop sleeps only when there was nothing to do.

The two dispatchers keep up to a configured number of sends in flight: each item is sent in
a task of its own with no transaction open; one short transaction per turn of the loop
records the outcomes of the sends that finished meanwhile and claims due items for the free
slots (one commit per batch, for both).
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
    cycle: Callable[[list, int], Awaitable[Sequence[object]]],
    complete: Callable[[object], Awaitable[object]],
) -> None:
    """Keep up to ``slots`` items in flight, each completed in its own task.

    Each turn of the loop is one ``cycle`` (one short transaction): it records the results
    of every item that finished since the last turn and claims new items for the free
    slots, when at least a quarter of them are free (a claim of one item per finished item
    would pay a statement per item). Between turns it waits for an item to finish, or
    ``interval`` when there was nothing to claim.
    """
    running: set[asyncio.Task] = set()
    finished: list = []
    wake = asyncio.Event()
    refill = max(1, slots // 4)

    async def guarded(item: object) -> None:
        try:
            finished.append(await complete(item))
        except Exception:  # noqa: BLE001  the claim expires and the item is taken again
            log.exception("dispatch_failed", dispatcher=name)
        finally:
            wake.set()

    try:
        while True:
            batch, finished[:] = finished[:], []
            free = slots - len(running)
            limit = free if free >= refill else 0
            claimed: Sequence[object] = []
            if batch or limit:
                try:
                    claimed = await cycle(batch, limit)
                except Exception:  # noqa: BLE001  the database is away: the results' claims
                    # expire and their items are taken again; try again shortly
                    log.exception("dispatch_cycle_failed", dispatcher=name)
                    await asyncio.sleep(interval)
                    continue
            for item in claimed:
                task = asyncio.create_task(guarded(item))
                running.add(task)
                task.add_done_callback(running.discard)
            wake.clear()
            if finished:
                continue
            drained = limit > 0 and len(claimed) < limit  # nothing more is due right now
            try:
                async with asyncio.timeout(interval if drained or not running else None):
                    await wake.wait()
            except TimeoutError:
                pass
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

    async def cycle(results: list, limit: int) -> Sequence[object]:
        return await messages.record_and_claim(session_factory, clock, settings, results, limit)

    async def complete(item: object) -> object:
        return await messages.send_only(clock, channels, settings, item)  # type: ignore[arg-type]

    await _keep_busy(
        "messages",
        settings.dispatch_concurrency,
        settings.dispatch_interval_seconds,
        cycle,
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

    async def cycle(attempts: list, limit: int) -> Sequence[object]:
        return await webhooks.record_and_claim(session_factory, clock, settings, attempts, limit)

    async def complete(item: object) -> object:
        result = await webhooks.attempt_only(clock, sender, settings, item, in_flight)  # type: ignore[arg-type]
        return item, result

    await _keep_busy(
        "webhooks",
        settings.webhook_dispatch_concurrency,
        settings.webhook_dispatch_interval_seconds,
        cycle,
        complete,
    )
