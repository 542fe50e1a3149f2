"""Background loops of the notification service: each iteration calls one use case, and the
loop sleeps only when there was nothing to do.

The two dispatchers keep up to a configured number of sends in flight: an iteration claims
as many due items as there are free slots (one short transaction) and starts one task per
item, which sends it (no transaction open); the outcomes of the sends that finished
meanwhile are recorded together in a second transaction (one commit per batch).
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


class _Batches:
    """Results of concurrent sends, recorded in batches: each sender hands its result over
    and waits until the batch holding it is committed (so its slot stays taken until then);
    one transaction records everything that finished meanwhile."""

    def __init__(self, record: Callable[[list], Awaitable[object]], largest: int = 500) -> None:
        self._record = record
        self._largest = largest
        self._queue: asyncio.Queue[tuple[object, asyncio.Future]] = asyncio.Queue()

    async def submit(self, result: object) -> None:
        done = asyncio.get_running_loop().create_future()
        await self._queue.put((result, done))
        await done

    async def run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while not self._queue.empty() and len(batch) < self._largest:
                batch.append(self._queue.get_nowait())
            try:
                await self._record([result for result, _ in batch])
            except Exception as exc:  # noqa: BLE001  each sender sees it; the claims expire
                for _, done in batch:
                    if not done.done():
                        done.set_exception(exc)
            else:
                for _, done in batch:
                    if not done.done():
                        done.set_result(None)


async def _keep_busy(
    name: str,
    slots: int,
    interval: float,
    claim: Callable[[int], Awaitable[Sequence[object]]],
    complete: Callable[[object], Awaitable[object]],
    batches: _Batches,
) -> None:
    """Claim work for the free slots and complete each claimed item in its own task (its
    result recorded through ``batches``); wait while fewer than a quarter of the slots are
    free, and ``interval`` when there was nothing to claim."""
    running: set[asyncio.Task] = set()
    recorder = asyncio.create_task(batches.run())
    # Claim only when a good share of the slots is free: a claim is a transaction (a commit),
    # and refilling one slot at a time would pay one per item.
    refill = max(1, slots // 4)

    async def guarded(item: object) -> None:
        try:
            await batches.submit(await complete(item))
        except Exception:  # noqa: BLE001  the claim expires and the item is taken again
            log.exception("dispatch_failed", dispatcher=name)

    try:
        while True:
            free = slots - len(running)
            if free < refill:
                await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
                continue
            try:
                claimed = await claim(free)
            except Exception:  # noqa: BLE001  the database is away: try again shortly
                log.exception("dispatch_claim_failed", dispatcher=name)
                await asyncio.sleep(interval)
                continue
            for item in claimed:
                task = asyncio.create_task(guarded(item))
                running.add(task)
                task.add_done_callback(running.discard)
            if not claimed:
                if running:
                    await asyncio.wait(
                        running, timeout=interval, return_when=asyncio.FIRST_COMPLETED
                    )
                else:
                    await asyncio.sleep(interval)
    finally:
        for task in (*running, recorder):
            task.cancel()
        await asyncio.gather(*running, recorder, return_exceptions=True)


async def dispatch_messages(
    session_factory: SessionFactory,
    clock: Clock,
    channels: dict[str, Channel],
    settings: NotificationSettings,
) -> None:
    """Send due customer messages, ``dispatch_concurrency`` at a time, forever."""

    async def claim(free: int) -> Sequence[object]:
        return await messages.claim_due_messages(session_factory, clock, settings, free)

    async def complete(item: object) -> object:
        return await messages.send_only(clock, channels, settings, item)  # type: ignore[arg-type]

    async def record(results: list) -> None:
        await messages.record_send_outcomes(session_factory, clock, settings, results)

    await _keep_busy(
        "messages",
        settings.dispatch_concurrency,
        settings.dispatch_interval_seconds,
        claim,
        complete,
        _Batches(record),
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

    async def complete(item: object) -> object:
        result = await webhooks.attempt_only(clock, sender, settings, item, in_flight)  # type: ignore[arg-type]
        return item, result

    async def record(attempts: list) -> None:
        await webhooks.record_attempt_outcomes(session_factory, clock, settings, attempts)

    await _keep_busy(
        "webhooks",
        settings.webhook_dispatch_concurrency,
        settings.webhook_dispatch_interval_seconds,
        claim,
        complete,
        _Batches(record),
    )
