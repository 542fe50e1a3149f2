"""Transactional outbox: events are rows written in the use case's own transaction.

The relay publishes unpublished rows in id order and marks them published. Each batch runs
under a transaction-level advisory lock, so with several replicas exactly one relays at a
time and one aggregate's events keep their order (plain SKIP LOCKED across relays could
reorder them). A crash between publish and mark re-sends the batch; consumers deduplicate
by event id (the inbox), so that costs nothing but a repeat.
"""

from __future__ import annotations

import asyncio
import contextlib

import structlog
from aiokafka import AIOKafkaProducer
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from redress_shared.clock import Clock
from redress_shared.db import OUTBOX_WRITTEN, PlatformTables
from redress_shared.events import EventEnvelope, to_kafka_record
from redress_shared.observability import EVENTS_PUBLISHED, correlation_id_var

log = structlog.get_logger(__name__)


async def add_to_outbox(
    session: AsyncSession, tables: PlatformTables, topic: str, event: EventEnvelope
) -> None:
    """Stage ``event`` for ``topic`` in the caller's transaction (commits with it); the
    commit wakes the relay (see :func:`redress_shared.db.create_session_factory`)."""
    if event.correlation_id is None:
        event = event.model_copy(update={"correlation_id": correlation_id_var.get()})
    await session.execute(
        tables.outbox.insert().values(
            event_id=event.id,
            topic=topic,
            message_key=event.key,
            event=event.model_dump(mode="json"),
        )
    )
    session.info[OUTBOX_WRITTEN] = True


class OutboxRelay:
    """Moves outbox rows to Kafka (acks=all) in order, one replica at a time."""

    def __init__(
        self,
        *,
        session_factory: async_sessionmaker[AsyncSession],
        tables: PlatformTables,
        clock: Clock,
        lock_name: str,
        poll_interval: float = 0.05,
        batch_size: int = 500,
        wakeup: asyncio.Event | None = None,
    ) -> None:
        self._session_factory = session_factory
        self._tables = tables
        self._clock = clock
        self._lock_name = lock_name
        self._poll_interval = poll_interval
        self._batch_size = batch_size
        # Set after every commit that staged events (the session factory's hook), so the
        # relay looks at the outbox at once instead of at its next poll.
        self._wakeup = wakeup or asyncio.Event()

    async def relay_once(self, producer: AIOKafkaProducer) -> int:
        """Publish one batch; return how many events went out (0 if none or not leader)."""
        outbox = self._tables.outbox
        async with self._session_factory() as session, session.begin():
            leader = await session.scalar(
                select(func.pg_try_advisory_xact_lock(func.hashtext(self._lock_name)))
            )
            if not leader:
                return 0
            rows = (
                await session.execute(
                    select(outbox.c.id, outbox.c.topic, outbox.c.event)
                    .where(outbox.c.published_at.is_(None))
                    .order_by(outbox.c.id)
                    .limit(self._batch_size)
                )
            ).all()
            if not rows:
                return 0
            pending = []
            for row in rows:
                key, value, headers = to_kafka_record(EventEnvelope.model_validate(row.event))
                pending.append(
                    await producer.send(row.topic, value=value, key=key, headers=headers)
                )
            await asyncio.gather(*pending)
            await session.execute(
                update(outbox)
                .where(outbox.c.id.in_([row.id for row in rows]))
                .values(published_at=self._clock.now())
            )
            for row in rows:
                EVENTS_PUBLISHED.labels(row.topic).inc()
            return len(rows)

    async def run(self, producer: AIOKafkaProducer) -> None:
        """Relay until cancelled; errors are logged and retried after a pause."""
        while True:
            try:
                published = await self.relay_once(producer)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("outbox_relay_failed")
                published = 0
                await asyncio.sleep(1.0)
            if published >= self._batch_size:
                continue
            self._wakeup.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), self._poll_interval)


__all__ = ["OutboxRelay", "add_to_outbox"]
