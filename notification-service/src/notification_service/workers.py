"""Background loops of the notification service: each iteration calls one use case, and the
loop sleeps only when there was nothing to do.

A dispatcher sleeps until its :class:`Doorbell` rings: at once when this process committed
work it can take (the consumer queued messages or deliveries, a follow-up fired), or when a
message it knows of falls due (a retry, the end of a quiet window); and it looks every
``dispatch_interval_seconds`` (``webhook_...``) for what it cannot know of (another replica's
work, a claim that expired).

The two dispatchers keep up to a configured number of sends in flight: each item is sent in
a task of its own with no transaction open; one short transaction per turn of the loop
records the outcomes of the sends that finished meanwhile and claims due items for the free
slots (one commit per batch, for both).
"""

from __future__ import annotations

import asyncio
import heapq
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime

import structlog
from redress_shared.clock import Clock
from redress_shared.db import SessionFactory
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession

from notification_service.adapters.http import WebhookSender
from notification_service.config import NotificationSettings
from notification_service.messages import service as messages
from notification_service.messages.model import Channel, Messaging
from notification_service.webhooks import service as webhooks

log = structlog.get_logger(__name__)

#: On a stop, how long the sends already under way may take to finish before their results
#: are recorded (each send is bounded by its own timeout too).
STOP_DRAIN_SECONDS = 5.0

#: How long a finished send's result may wait for others before a turn records it (a turn
#: per finished send cost a statement per message whenever sends finished one by one).
RECORD_WITHIN_SECONDS = 0.05


class Doorbell:
    """Wakes one dispatcher: at once, or when known work falls due (times of ``clock``)."""

    def __init__(self, clock: Clock) -> None:
        self.event = asyncio.Event()
        self._clock = clock
        self._due: list[datetime] = []  # a heap of the times known work falls due

    def ring(self, at: datetime | None = None) -> None:
        """Work can be taken ``at`` (now when None)."""
        if at is None or at <= self._clock.now():
            self.event.set()
        else:
            heapq.heappush(self._due, at)

    def ring_after_commit(self, session: AsyncSession, at: datetime | None = None) -> None:
        """:meth:`ring` once ``session``'s transaction has committed (the work is visible to
        the dispatcher's claim then; a transaction rolled back rings nothing)."""
        event.listen(session.sync_session, "after_commit", lambda _: self.ring(at), once=True)

    def wait_at_most(self, interval: float) -> float:
        """Seconds to sleep at most: ``interval``, or less when known work falls due sooner."""
        now = self._clock.now()
        passed = False
        while self._due and self._due[0] <= now:
            heapq.heappop(self._due)
            passed = True
        if passed or not self._due:
            return 0.0 if passed else interval
        return min(interval, (self._due[0] - now).total_seconds())


async def _keep_busy(
    name: str,
    slots: int,
    interval: float,
    cycle: Callable[[list, int], Awaitable[Sequence[object]]],
    complete: Callable[[object], Awaitable[object]],
    doorbell: Doorbell,
) -> None:
    """Keep up to ``slots`` items in flight, each completed in its own task.

    Each turn of the loop is one ``cycle`` (one short transaction): it records the results
    of every item that finished since the last turn and claims new items for the free
    slots, when at least a quarter of them are free (a claim of one item per finished item
    would pay a statement per item). A turn runs when the doorbell rings (new work), when a
    quarter of the slots have finished, or at the latest ``RECORD_WITHIN_SECONDS`` after an
    item finished: finished items wait that long for company rather than paying a statement
    each (their work is done; only its record waits). With nothing more to claim the loop
    waits for the doorbell (``interval`` at most).
    """
    running: set[asyncio.Task] = set()
    finished: list = []
    recording: list = []  # the results of the turn under way
    wake = doorbell.event
    refill = max(1, slots // 4)
    loop = asyncio.get_running_loop()
    record_timer: asyncio.TimerHandle | None = None  # wakes the loop for results that wait

    async def guarded(item: object) -> None:
        nonlocal record_timer
        try:
            finished.append(await complete(item))
        except Exception:  # noqa: BLE001  the claim expires and the item is taken again
            log.exception("dispatch_failed", dispatcher=name)
        finally:
            if len(finished) >= refill:
                wake.set()
            elif record_timer is None:
                record_timer = loop.call_later(RECORD_WITHIN_SECONDS, wake.set)

    try:
        while True:
            wake.clear()  # before the claim: work committed meanwhile rings for the next turn
            if record_timer is not None:
                record_timer.cancel()
                record_timer = None
            batch, finished[:] = finished[:], []
            free = slots - len(running)
            limit = free if free >= refill else 0
            claimed: Sequence[object] = []
            if batch or limit:
                recording[:] = batch  # kept if a stop interrupts the turn
                try:
                    claimed = await cycle(batch, limit)
                except Exception:  # noqa: BLE001  the database is away: the results' claims
                    # expire and their items are taken again; try again shortly
                    recording.clear()
                    log.exception("dispatch_cycle_failed", dispatcher=name)
                    await asyncio.sleep(interval)
                    continue
                recording.clear()
            for item in claimed:
                task = asyncio.create_task(guarded(item))
                running.add(task)
                task.add_done_callback(running.discard)
            if len(finished) >= refill:
                continue
            drained = limit > 0 and len(claimed) < limit  # nothing more is due right now
            try:
                idle = drained or not running
                async with asyncio.timeout(doorbell.wait_at_most(interval) if idle else None):
                    await wake.wait()
            except TimeoutError:
                pass
    finally:
        if record_timer is not None:
            record_timer.cancel()
        await _finish_before_stopping(name, running, recording, finished, cycle)


async def _finish_before_stopping(
    name: str,
    running: set[asyncio.Task],
    recording: list,
    finished: list,
    cycle: Callable[[list, int], Awaitable[Sequence[object]]],
) -> None:
    """On a stop: let the items under way finish (``STOP_DRAIN_SECONDS`` at most), then
    record every result not yet recorded, claiming nothing. An item sent but left unrecorded
    would be sent again once its claim expired: a customer would get the e-mail twice after
    every restart. What still runs then is cancelled; its claim expires and it is tried again
    (at least once, as after a crash). Recording a result twice changes nothing (its claim is
    released the first time), so a turn the stop interrupted is recorded again."""
    if running:
        await asyncio.wait(set(running), timeout=STOP_DRAIN_SECONDS)
    for task in running:
        task.cancel()
    await asyncio.gather(*running, return_exceptions=True)
    results = [*recording, *finished]  # the interrupted turn's, and all that finished since
    if results:
        try:
            await cycle(results, 0)
        except Exception:  # noqa: BLE001  stopping anyway: the claims expire, items are retried
            log.exception(
                "dispatch_results_unrecorded_at_stop", dispatcher=name, count=len(results)
            )


async def dispatch_messages(
    session_factory: SessionFactory,
    clock: Clock,
    channels: dict[str, Channel],
    settings: NotificationSettings,
    doorbell: Doorbell,
) -> None:
    """Send due customer messages, ``dispatch_concurrency`` at a time, forever."""

    async def cycle(results: list, limit: int) -> Sequence[object]:
        return await messages.record_and_claim(
            session_factory, clock, settings, results, limit, due_later=doorbell.ring
        )

    async def complete(item: object) -> object:
        return await messages.send_only(clock, channels, settings, item)  # type: ignore[arg-type]

    await _keep_busy(
        "messages",
        settings.dispatch_concurrency,
        settings.dispatch_interval_seconds,
        cycle,
        complete,
        doorbell,
    )


async def fire_follow_ups(
    session_factory: SessionFactory, messaging: Messaging, doorbell: Doorbell
) -> None:
    """Queue the follow-up messages that fall due (and wake the dispatcher), forever."""
    while True:
        if await messages.fire_due_follow_ups(session_factory, messaging):
            doorbell.ring()
        else:
            await asyncio.sleep(messaging.settings.follow_up_poll_interval_seconds)


async def deliver_webhooks(
    session_factory: SessionFactory,
    clock: Clock,
    sender: WebhookSender,
    settings: NotificationSettings,
    in_flight: Counter[uuid.UUID],
    doorbell: Doorbell,
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
        doorbell,
    )
