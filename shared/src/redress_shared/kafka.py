"""The idempotent consumer loop (the producer and topic set-up are in :mod:`redress_shared.broker`).

The consumer applies each fetch (every partition and topic in it) in one database transaction
that also records the event ids in the inbox, and commits the offsets only after that
transaction commits. If the fetch fails as a whole, its partitions are applied one by one, and
a failing partition record by record: a record that fails by itself is retried a bounded number
of times and then parked on ``<topic>.dlq`` with the error. An infrastructure fault (database,
broker, network; see :func:`redress_shared.faults.is_transient`) is not the record's fault: the
partition is rewound to the first record not applied and retried with backoff for as long as
the fault lasts, so nothing is dead-lettered by an outage and one aggregate's events keep their
order.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence

import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from sqlalchemy import ARRAY, Text, bindparam, func, select
from sqlalchemy.dialects.postgresql import UUID as PG_UUID
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from redress_shared.db import PlatformTables
from redress_shared.events import (
    EventEnvelope,
    MalformedEvent,
    dead_letter_topic,
)
from redress_shared.faults import is_transient
from redress_shared.observability import EVENTS_CONSUMED, bind_correlation_id
from redress_shared.records import decode_record
from redress_shared.settings import ServiceSettings

log = structlog.get_logger(__name__)

# A replay's fetches: up to this many records per batch, and this much per partition per fetch
# (about 2,000 of our records).
REPLAY_MAX_POLL_RECORDS = 2000
LIVE_MAX_POLL_RECORDS = 500
REPLAY_PARTITION_FETCH_BYTES = 4 * 1024 * 1024

EventHandler = Callable[[AsyncSession, EventEnvelope], Awaitable[None]]
BatchHandler = Callable[[AsyncSession, list[EventEnvelope]], Awaitable[None]]
"""Applies several events, in their partition order, with set-based statements."""


class InfrastructureFault(Exception):
    """Applying a partition's records stopped on an infrastructure fault; every record before
    ``resume_offset`` is applied (and may be committed), none from it on."""

    def __init__(self, resume_offset: int, cause: BaseException) -> None:
        super().__init__(f"infrastructure fault at offset {resume_offset}: {cause!r}")
        self.resume_offset = resume_offset
        self.cause = cause


class _FaultBackoff:
    """Doubling pauses while a fault lasts, from the retry backoff up to a ceiling."""

    def __init__(self, settings: ServiceSettings) -> None:
        self._first = max(settings.consumer_retry_backoff_seconds, 0.01)
        self._ceiling = max(settings.consumer_fault_backoff_max_seconds, self._first)
        self._next = self._first

    def reset(self) -> None:
        self._next = self._first

    def next_pause(self) -> float:
        pause, self._next = self._next, min(self._next * 2, self._ceiling)
        return pause


class EventConsumer:
    """One consumer group: inbox-deduplicated handlers, manual commits, bounded retries, DLQ."""

    def __init__(
        self,
        *,
        group_id: str,
        topics: Sequence[str],
        handlers: dict[str, EventHandler],
        session_factory: async_sessionmaker[AsyncSession],
        tables: PlatformTables,
        settings: ServiceSettings,
        batch_handler: BatchHandler | None = None,
    ) -> None:
        """``handlers`` maps each event type this group applies to its handler. With a
        ``batch_handler``, the fresh events of a fetched batch (the inbox has dropped the
        repeats) go to it in one call instead, so the cost is per batch, not per event; the
        per-record fallback then calls it with one event."""
        self.group_id = group_id
        self._batch_handler = batch_handler
        # A fetch that brings nothing within a few of the broker's fetch waits: Tansu answers
        # only when its wait runs out, Apache Kafka at once.
        self._idle_fetch_ms = max(300, 3 * settings.kafka_fetch_max_wait_ms)
        self.topics = list(topics)
        self._handlers = handlers
        self._session_factory = session_factory
        self._tables = tables
        self._producer: AIOKafkaProducer | None = None
        self._settings = settings
        self._consumer: AIOKafkaConsumer | None = None
        # One statement whatever the batch size (arrays, not a VALUES row per event), built
        # once: its text is compiled and prepared once, and its cache key (which SQLAlchemy
        # keeps on the statement object) computed once.
        inbox = tables.inbox
        fresh_rows = select(
            bindparam("consumer", type_=Text),
            func.unnest(bindparam("ids", type_=ARRAY(PG_UUID(as_uuid=True)))),
            func.unnest(bindparam("types", type_=ARRAY(Text))),
        )
        self._claim = (
            insert(inbox)
            .from_select(["consumer", "event_id", "event_type"], fresh_rows)
            .on_conflict_do_nothing()
            .returning(inbox.c.event_id)
        )
        # Records a replay could not apply; a replay never dead-letters (the running
        # consumer already did, once).
        self.replay_failures: list[str] = []

    @property
    def started(self) -> bool:
        """True once the consumer has connected and joined its group."""
        return self._consumer is not None

    async def run(self, producer: AIOKafkaProducer) -> None:
        """Consume until cancelled; ``producer`` sends poison records to the dead-letter topic."""
        self._producer = producer
        consumer = AIOKafkaConsumer(
            *self.topics,
            bootstrap_servers=self._settings.kafka_bootstrap_servers,
            group_id=self.group_id,
            client_id=f"{self._settings.kafka_client_id_prefix}-{self.group_id}",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            # A fetch is applied in one transaction: a backlog drains in large ones.
            max_poll_records=LIVE_MAX_POLL_RECORDS,
            # The broker answers once the minimum is there or the wait runs out (Tansu too):
            # the wait bounds the latency a larger minimum adds.
            fetch_max_wait_ms=self._settings.kafka_fetch_max_wait_ms,
            fetch_min_bytes=self._settings.kafka_fetch_min_bytes,
        )
        await consumer.start()
        self._consumer = consumer
        backoff = _FaultBackoff(self._settings)
        try:
            while True:
                batches = await consumer.getmany(timeout_ms=500)
                await self._apply_fetch(consumer, batches, backoff, commit=True)
        finally:
            self._consumer = None
            await consumer.stop()

    async def _apply_fetch(
        self,
        consumer: AIOKafkaConsumer,
        batches: dict[TopicPartition, list[ConsumerRecord]],
        backoff: _FaultBackoff,
        *,
        commit: bool,
    ) -> tuple[int, bool]:
        """Apply one fetch, every partition and topic of it, and commit its offsets; return
        how many records were applied and whether an infrastructure fault rewound some.

        The usual fetch goes in one transaction: the events of each partition in their order,
        the partitions one after another (one aggregate's events share a partition, so its
        order holds), and one offset commit for all. At the rates the live consumers see, a
        fetch brings a few records from each of a dozen partitions, and a transaction per
        partition cost more than the events in it. If the fetch holds a malformed record or
        fails as a whole, it is applied partition by partition instead, as before: a poison
        record then fails alone (:meth:`_process_batch`).
        """
        batches = {partition: records for partition, records in batches.items() if records}
        if len(batches) > 1:
            decoded = self._decode_fetch(batches)
            if decoded is not None:
                events, ignored = decoded
                try:
                    if events:
                        await self._handle_together(events)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    if is_transient(exc):
                        # Nothing of the fetch was applied: every partition from its start.
                        for partition, records in batches.items():
                            consumer.seek(partition, records[0].offset)
                        pause = backoff.next_pause()
                        log.warning(
                            "consumer_paused_on_infrastructure_fault",
                            consumer=self.group_id,
                            partitions=len(batches),
                            retry_in_seconds=pause,
                            error=repr(exc),
                        )
                        await asyncio.sleep(pause)
                        return 0, True
                    log.warning(
                        "event_fetch_failed",
                        consumer=self.group_id,
                        size=len(events),
                        error=repr(exc),
                    )
                else:
                    backoff.reset()
                    if ignored:
                        EVENTS_CONSUMED.labels(self.group_id, "ignored").inc(ignored)
                    if commit:
                        await consumer.commit(
                            {
                                partition: records[-1].offset + 1
                                for partition, records in batches.items()
                            }
                        )
                    return sum(len(records) for records in batches.values()), False
        applied, faulted = 0, False
        for partition, records in batches.items():
            try:
                await self._process_batch(records)
            except InfrastructureFault as fault:
                applied += fault.resume_offset - records[0].offset
                await self._rewind(consumer, partition, records, fault, backoff, commit=commit)
                faulted = True
                continue
            applied += len(records)
            backoff.reset()
            if commit:
                await consumer.commit({partition: records[-1].offset + 1})
        return applied, faulted

    def _decode_fetch(
        self, batches: dict[TopicPartition, list[ConsumerRecord]]
    ) -> tuple[list[EventEnvelope], int] | None:
        """The events of a fetch this group applies, partition after partition, and how many
        records it ignores; None if a record is malformed (the fetch then goes partition by
        partition, where that record is dead-lettered)."""
        events: list[EventEnvelope] = []
        ignored = 0
        for records in batches.values():
            for record in records:
                try:
                    event = decode_record(record.key, record.value, record.headers)
                except MalformedEvent:
                    return None
                if event.type in self._handlers:
                    events.append(event)
                else:
                    ignored += 1
        return events, ignored

    async def _rewind(
        self,
        consumer: AIOKafkaConsumer,
        partition: TopicPartition,
        records: list[ConsumerRecord],
        fault: InfrastructureFault,
        backoff: _FaultBackoff,
        *,
        commit: bool = True,
    ) -> None:
        """Keep what was applied, fetch the rest again after a pause. The consumer keeps
        polling meanwhile, so it stays in its group however long the fault lasts."""
        if commit and fault.resume_offset > records[0].offset:
            await consumer.commit({partition: fault.resume_offset})
        consumer.seek(partition, fault.resume_offset)
        pause = backoff.next_pause()
        log.warning(
            "consumer_paused_on_infrastructure_fault",
            consumer=self.group_id,
            topic=partition.topic,
            partition=partition.partition,
            offset=fault.resume_offset,
            retry_in_seconds=pause,
            error=repr(fault.cause),
        )
        await asyncio.sleep(pause)

    async def replay(self) -> int:
        """Apply every record of the topics from offset 0 up to at least the end offsets seen
        when the replay starts, then return how many records were read.

        For rebuilding state from the log: partitions are assigned by hand (no group
        membership, no committed offsets), the handlers and the inbox work as in :meth:`run`,
        and a record that still fails after its retries is listed in ``replay_failures``
        instead of being dead-lettered a second time. It ends once every partition's position
        has passed that end offset and a whole idle wait brings nothing from any of them (one
        wait for all partitions, not one each): Tansu can report an end offset short of the
        last record batch, and reading on is harmless (the inbox).
        """
        self._producer = None
        self.replay_failures = []
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self._settings.kafka_bootstrap_servers,
            client_id=f"{self._settings.kafka_client_id_prefix}-{self.group_id}",
            enable_auto_commit=False,
            # A replay reads a long backlog: large batches make the per-batch statements cheap
            # per event (measured; see the analytics README).
            max_poll_records=REPLAY_MAX_POLL_RECORDS,
            max_partition_fetch_bytes=REPLAY_PARTITION_FETCH_BYTES,
            fetch_max_wait_ms=self._settings.kafka_fetch_max_wait_ms,
        )
        await consumer.start()
        try:
            await consumer.topics()  # loads the partition metadata
            partitions = [
                TopicPartition(topic, number)
                for topic in self.topics
                for number in sorted(consumer.partitions_for_topic(topic) or ())
            ]
            consumer.assign(partitions)
            await consumer.seek_to_beginning(*partitions)
            ends = await consumer.end_offsets(partitions)
            read = 0
            backoff = _FaultBackoff(self._settings)
            while True:
                batches = await consumer.getmany(*partitions, timeout_ms=self._idle_fetch_ms)
                applied, faulted = await self._apply_fetch(consumer, batches, backoff, commit=False)
                read += applied
                if faulted:
                    continue
                if any(batches.values()):
                    continue
                # A whole idle wait brought nothing from any partition: done once every
                # partition has passed its end offset.
                positions = [await consumer.position(p) for p in partitions]
                if all(at >= ends[p] for p, at in zip(partitions, positions, strict=True)):
                    return read
        finally:
            await consumer.stop()

    async def _process_batch(self, records: list[ConsumerRecord]) -> None:
        """Apply one partition's records in order.

        The common case, a batch without trouble, commits in a single transaction; if any
        record fails, that transaction rolls back whole and the records are applied one by
        one, each with its own retries, so a poison record cannot take the others down. An
        infrastructure fault raises :class:`InfrastructureFault` instead (nothing is
        dead-lettered because the database or the broker is away).
        """
        decoded: list[tuple[ConsumerRecord, EventEnvelope]] = []
        for record in records:
            try:
                event = decode_record(record.key, record.value, record.headers)
            except MalformedEvent as exc:
                await self._dead_letter_or_pause(record, f"malformed event: {exc}")
                continue
            if event.type in self._handlers:
                decoded.append((record, event))
            else:
                EVENTS_CONSUMED.labels(self.group_id, "ignored").inc()
        if len(decoded) > 1:
            try:
                await self._handle_together([event for _, event in decoded])
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if is_transient(exc):
                    raise InfrastructureFault(decoded[0][0].offset, exc) from exc
                log.warning(
                    "event_batch_failed", consumer=self.group_id, size=len(decoded), error=repr(exc)
                )
        for record, event in decoded:
            await self._process(record, event)

    async def _handle_together(self, events: list[EventEnvelope]) -> None:
        outcomes: list[str] = []
        async with self._session_factory() as session, session.begin():
            claimed = set(
                await session.scalars(
                    self._claim,
                    {
                        "consumer": self.group_id,
                        "ids": [e.id for e in events],
                        "types": [e.type for e in events],
                    },
                )
            )
            fresh: list[EventEnvelope] = []
            for event in events:
                if event.id not in claimed:
                    outcomes.append("duplicate")
                    continue
                claimed.discard(event.id)  # a repeat inside the same batch is a duplicate too
                fresh.append(event)
                outcomes.append("processed")
            if self._batch_handler is not None:
                if fresh:
                    await self._batch_handler(session, fresh)
            else:
                for event in fresh:
                    bind_correlation_id(event.correlation_id)
                    await self._handlers[event.type](session, event)
        for outcome in outcomes:
            EVENTS_CONSUMED.labels(self.group_id, outcome).inc()

    async def _process(self, record: ConsumerRecord, event: EventEnvelope) -> None:
        bind_correlation_id(event.correlation_id)
        handler = self._handlers[event.type]
        retries = self._settings.consumer_max_retries
        for attempt in range(1, retries + 1):
            try:
                outcome = await self._handle_once(handler, event)
                EVENTS_CONSUMED.labels(self.group_id, outcome).inc()
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if is_transient(exc):
                    raise InfrastructureFault(record.offset, exc) from exc
                log.warning(
                    "event_handling_failed",
                    consumer=self.group_id,
                    event_id=str(event.id),
                    event_type=event.type,
                    attempt=attempt,
                    error=repr(exc),
                )
                if attempt == retries:
                    await self._dead_letter_or_pause(record, repr(exc))
                    return
                await asyncio.sleep(
                    self._settings.consumer_retry_backoff_seconds * 2 ** (attempt - 1)
                )

    async def _handle_once(self, handler: EventHandler, event: EventEnvelope) -> str:
        async with self._session_factory() as session, session.begin():
            claimed = await session.scalar(
                self._claim, {"consumer": self.group_id, "ids": [event.id], "types": [event.type]}
            )
            if claimed is None:
                return "duplicate"
            if self._batch_handler is not None:
                await self._batch_handler(session, [event])
            else:
                await handler(session, event)
        return "processed"

    async def _dead_letter_or_pause(self, record: ConsumerRecord, error: str) -> None:
        """Park ``record`` on its dead-letter topic; if the broker cannot take it now, that is
        an infrastructure fault at this record (it is fetched and judged again later)."""
        try:
            await self._dead_letter(record, error)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if is_transient(exc):
                raise InfrastructureFault(record.offset, exc) from exc
            raise

    async def _dead_letter(self, record: ConsumerRecord, error: str) -> None:
        if self._producer is None:  # a replay: the running consumer dead-lettered it already
            self.replay_failures.append(
                f"{record.topic}/{record.partition}/{record.offset}: {error}"
            )
            log.warning("replay_record_skipped", consumer=self.group_id, error=error)
            return
        topic = dead_letter_topic(record.topic)
        headers = [
            *(record.headers or ()),
            ("redress_dlq_error", error[:2000].encode()),
            ("redress_dlq_consumer", self.group_id.encode()),
            ("redress_dlq_source", f"{record.topic}/{record.partition}/{record.offset}".encode()),
        ]
        assert self._producer is not None
        await self._producer.send_and_wait(
            topic, value=record.value, key=record.key, headers=headers
        )
        EVENTS_CONSUMED.labels(self.group_id, "dead_lettered").inc()
        log.error(
            "event_dead_lettered",
            consumer=self.group_id,
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            error=error,
        )


__all__ = [
    "BatchHandler",
    "EventConsumer",
    "EventHandler",
    "InfrastructureFault",
]
