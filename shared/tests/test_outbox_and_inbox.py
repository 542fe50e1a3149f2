"""The outbox relay and the idempotent consumer against real PostgreSQL and the real broker."""

from __future__ import annotations

import asyncio
import io
import json
import uuid
from collections import defaultdict
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.errors import (
    KafkaConnectionError,
    MessageSizeTooLargeError,
    NotLeaderForPartitionError,
    UnknownError,
)
from aiokafka.partitioner import DefaultPartitioner
from redress_shared.broker import create_producer, ensure_topics
from redress_shared.cli import command_parser
from redress_shared.clock import SystemClock
from redress_shared.db import PlatformTables, create_session_factory
from redress_shared.events import ComplaintReceivedV1, CustomerContact, dead_letter_topic, new_event
from redress_shared.kafka import EventConsumer
from redress_shared.observability import EVENTS_CONSUMED
from redress_shared.operations import run_operation
from redress_shared.outbox import OutboxRelay, add_to_outbox, refused_for_good
from redress_shared.settings import ServiceSettings
from redress_testing import eventually, produce
from sqlalchemy import Column, Integer, MetaData, Table, Text, func, select, text, update

SCHEMA = "shared_test"
metadata = MetaData(schema=SCHEMA)
platform = PlatformTables(metadata)
effects = Table("effects", metadata, Column("event_id", Text), Column("n", Integer))


@pytest.fixture(scope="module")
async def db(infra):
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(infra.database_url)
    async with engine.begin() as connection:
        await connection.execute(text(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}"))
        await connection.run_sync(metadata.create_all)  # test-only tables
    yield create_session_factory(engine)
    await engine.dispose()


@pytest.fixture
def settings(infra) -> ServiceSettings:
    return ServiceSettings(
        service_name="shared-test",
        kafka_bootstrap_servers=infra.kafka_bootstrap_servers,
        consumer_max_retries=3,
        consumer_retry_backoff_seconds=0.01,
    )


def sample_event(key: str, sequence: int):
    payload = ComplaintReceivedV1(
        complaint_id=uuid.uuid4(),
        reference=f"RDR-2026-{sequence:06d}",
        received_at=datetime.now(UTC),
        channel="api",
        customer=CustomerContact(customer_key=key, email="a@example.com"),
        body=str(sequence),
    )
    return new_event(
        source="/test",
        type="redress.complaint.received.v1",
        key=key,
        payload=payload,
        time=datetime.now(UTC),
    )


async def read_topic(bootstrap: str, topic: str, expected: int) -> list:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"reader-{uuid.uuid4()}",
        auto_offset_reset="earliest",
    )
    await consumer.start()
    records: list = []
    try:

        async def enough():
            for batch in (await consumer.getmany(timeout_ms=300)).values():
                records.extend(batch)
            return len(records) >= expected

        await eventually(enough)
        await asyncio.sleep(1.0)  # anything beyond the expected count would be a duplicate
        for batch in (await consumer.getmany(timeout_ms=500)).values():
            records.extend(batch)
    finally:
        await consumer.stop()
    return records


@asynccontextmanager
async def running(settings: ServiceSettings, loop):
    """Run ``loop(producer)`` (a relay or a consumer) in the background for the block."""
    producer = create_producer(settings)
    await producer.start()
    task = asyncio.create_task(loop(producer))
    try:
        yield producer
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await producer.stop()


def consumer_for(db, settings: ServiceSettings, topic: str, handler, **overrides) -> EventConsumer:
    """A consumer group of its own on ``topic``, applying every sample event with ``handler``."""
    return EventConsumer(
        group_id=f"test-{uuid.uuid4()}",
        topics=[topic],
        handlers={"redress.complaint.received.v1": handler},
        session_factory=db,
        tables=platform,
        settings=settings.model_copy(update=overrides),
    )


async def test_two_relays_publish_everything_once_in_per_aggregate_order(db, settings, infra):
    topic = f"test.relay.{uuid.uuid4().hex[:8]}"
    await ensure_topics(infra.kafka_bootstrap_servers, [topic], partitions=3)
    lock = f"relay-test-{topic}"
    relays = [
        OutboxRelay(session_factory=db, tables=platform, clock=SystemClock(), lock_name=lock)
        for _ in range(2)
    ]
    producers = [create_producer(settings) for _ in relays]
    for producer in producers:
        await producer.start()
    tasks = [
        asyncio.create_task(relay.run(producer))
        for relay, producer in zip(relays, producers, strict=True)
    ]
    try:
        written: dict[str, list[str]] = defaultdict(list)
        for sequence in range(300):
            key = f"aggregate-{sequence % 3}"
            event = sample_event(key, sequence)
            async with db() as session, session.begin():
                await add_to_outbox(session, platform, topic, event)
            written[key].append(str(event.id))
        records = await read_topic(infra.kafka_bootstrap_servers, topic, 300)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for producer in producers:
            await producer.stop()

    published: dict[str, list[str]] = defaultdict(list)
    for record in sorted(records, key=lambda r: (r.partition, r.offset)):
        published[record.key.decode()].append(dict(record.headers)["ce_id"].decode())
    assert sum(len(ids) for ids in published.values()) == 300  # nothing lost, nothing doubled
    assert published == written  # and each aggregate's events in the order they were written
    async with db() as session:
        remaining = await session.scalar(
            select(func.count())
            .select_from(platform.outbox)
            .where(platform.outbox.c.topic == topic, platform.outbox.c.published_at.is_(None))
        )
    assert remaining == 0


async def test_consumer_applies_each_event_once_and_dead_letters_what_keeps_failing(
    db, settings, infra
):
    topic = f"test.inbox.{uuid.uuid4().hex[:8]}"
    await ensure_topics(infra.kafka_bootstrap_servers, [topic])
    good, poison = sample_event("k1", 1), sample_event("k2", 2)
    attempts: defaultdict[str, int] = defaultdict(int)

    async def handler(session, event):
        attempts[str(event.id)] += 1
        await session.execute(effects.insert().values(event_id=str(event.id), n=1))
        if event.id == poison.id:
            raise RuntimeError("cannot apply this one")

    consumer = consumer_for(db, settings, topic, handler)
    async with running(settings, consumer.run):
        await produce(infra.kafka_bootstrap_servers, topic, good, good, poison, good)
        dead = await read_topic(infra.kafka_bootstrap_servers, dead_letter_topic(topic), 1)

    assert [dict(r.headers)["ce_id"].decode() for r in dead] == [str(poison.id)]
    assert b"cannot apply this one" in dict(dead[0].headers)["redress_dlq_error"]
    async with db() as session:
        rows = (
            await session.execute(
                select(effects.c.event_id, func.count())
                .group_by(effects.c.event_id)
                .where(effects.c.event_id.in_([str(good.id), str(poison.id)]))
            )
        ).all()
    # The good event's effect exists once; the poison event's failed attempts left nothing.
    assert dict(rows) == {str(good.id): 1}
    # Bounded retries: its own attempts, plus one if it first failed inside a batch.
    assert (
        settings.consumer_max_retries
        <= attempts[str(poison.id)]
        <= settings.consumer_max_retries + 1
    )


async def test_a_consumer_that_can_wait_asks_for_fuller_fetches_and_still_applies_a_trickle(
    db, settings, infra
):
    """``kafka_fetch_min_bytes`` reaches the broker's fetch (so a quiet stream comes in larger
    batches), and the fetch wait still bounds it: one small event is applied."""
    topic = f"test.min-bytes.{uuid.uuid4().hex[:8]}"
    await ensure_topics(infra.kafka_bootstrap_servers, [topic])
    event = sample_event("k1", 1)

    async def handler(session, applied):
        await session.execute(effects.insert().values(event_id=str(applied.id), n=1))

    consumer = consumer_for(
        db, settings, topic, handler, kafka_fetch_min_bytes=1 << 20, kafka_fetch_max_wait_ms=200
    )

    async def applied():
        async with db() as session:
            return await session.scalar(
                select(func.count()).where(effects.c.event_id == str(event.id))
            )

    async with running(settings, consumer.run):
        await eventually(lambda: asyncio.sleep(0, consumer.started))
        assert consumer._consumer._fetcher._fetch_min_bytes == 1 << 20  # what each fetch asks
        await produce(infra.kafka_bootstrap_servers, topic, event)
        assert await eventually(applied) == 1


async def test_a_fetch_across_partitions_is_applied_together_and_a_poison_record_alone(
    db, settings, infra
):
    """Events of many aggregates, spread over every partition, wait on the topic before the
    consumer starts, so its fetches span partitions. The first wave goes in fetch-wide
    transactions (one transaction applied events of several partitions), after an outage
    that dropped the connection under one; in the second, one poison record sends its fetch
    the slow way, where it alone is dead-lettered. Every other event is applied once, each
    aggregate's in the order it was produced."""
    topic = f"test.fetch.{uuid.uuid4().hex[:8]}"
    await ensure_topics(infra.kafka_bootstrap_servers, [topic])
    keys = [f"aggregate-{n}" for n in range(12)]
    events = [sample_event(key, sequence) for sequence in range(5) for key in keys]
    first_wave, second_wave = events[:36], events[36:]
    poison = second_wave[5]
    outage_left = {"attempts": 2}
    applied_in_transaction: list[tuple[str, int]] = []  # (key, transaction id), attempts too
    order = f"{SCHEMA}.fetch_order_{uuid.uuid4().hex[:8]}"
    async with db() as session, session.begin():
        await session.execute(text(f"CREATE SEQUENCE {order}"))

    async def handler(session, event):
        if outage_left["attempts"] > 0:
            outage_left["attempts"] -= 1
            await session.execute(text("SELECT pg_terminate_backend(pg_backend_pid())"))
        if event.id == poison.id:
            raise ValueError("this record cannot be applied")
        transaction = await session.scalar(text("SELECT txid_current()"))
        # A sequence is not transactional: ``n`` orders what committed as it was applied.
        await session.execute(
            effects.insert().values(event_id=str(event.id), n=text(f"nextval('{order}')"))
        )
        applied_in_transaction.append((event.key, transaction))

    consumer = consumer_for(db, settings, topic, handler, consumer_fault_backoff_max_seconds=0.1)

    def applied(wave):
        async def probe():
            async with db() as session:
                count = await session.scalar(
                    select(func.count(func.distinct(effects.c.event_id))).where(
                        effects.c.event_id.in_([str(e.id) for e in wave])
                    )
                )
            return count == len([e for e in wave if e is not poison])

        return probe

    await produce(infra.kafka_bootstrap_servers, topic, *first_wave)
    async with running(settings, consumer.run):
        await eventually(applied(first_wave))
        first_transactions = list(applied_in_transaction)
        await produce(infra.kafka_bootstrap_servers, topic, *second_wave)
        dead = await read_topic(infra.kafka_bootstrap_servers, dead_letter_topic(topic), 1)
        await eventually(applied(second_wave))

    assert outage_left["attempts"] == 0
    assert [dict(r.headers)["ce_id"].decode() for r in dead] == [str(poison.id)]
    async with db() as session:
        rows = dict(
            (
                await session.execute(
                    select(effects.c.event_id, func.count())
                    .group_by(effects.c.event_id)
                    .where(effects.c.event_id.in_([str(e.id) for e in events]))
                )
            ).all()
        )
    assert rows == {str(e.id): 1 for e in events if e is not poison}
    async with db() as session:
        effect_rows = (
            (
                await session.execute(
                    select(effects.c.event_id)
                    .where(effects.c.event_id.in_([str(e.id) for e in events]))
                    .order_by(effects.c.n)
                )
            )
            .scalars()
            .all()
        )
    key_of = {str(e.id): e.key for e in events}
    written: defaultdict[str, list[str]] = defaultdict(list)
    for event_id in effect_rows:
        written[key_of[event_id]].append(event_id)
    produced: defaultdict[str, list[str]] = defaultdict(list)
    for event in events:
        if event is not poison:
            produced[event.key].append(str(event.id))
    assert written == produced  # each aggregate's events in the order they were produced
    partitioner = DefaultPartitioner()
    partition_of = {key: partitioner(key.encode(), [0, 1, 2], [0, 1, 2]) for key in keys}
    assert len(set(partition_of.values())) == 3  # the events really span every partition
    transactions: defaultdict[int, set[int]] = defaultdict(set)
    for key, transaction in first_transactions:
        transactions[transaction].add(partition_of[key])
    assert max(len(spanned) for spanned in transactions.values()) > 1


async def test_a_commit_that_staged_events_wakes_the_relay(db, infra, settings):
    """No caller notifies the relay: the commit itself does, so an event goes out long before
    the relay's next poll (here an hour away)."""
    from sqlalchemy.ext.asyncio import create_async_engine

    topic = f"test.wake.{uuid.uuid4().hex[:8]}"
    await ensure_topics(infra.kafka_bootstrap_servers, [topic])
    engine = create_async_engine(infra.database_url)
    committed = asyncio.Event()
    session_factory = create_session_factory(engine, on_outbox_commit=committed.set)
    relay = OutboxRelay(
        session_factory=session_factory,
        tables=platform,
        clock=SystemClock(),
        lock_name=f"relay-test-{topic}",
        poll_interval=3600,
        wakeup=committed,
    )
    committed.set()

    async def relay_is_waiting() -> bool:
        return not committed.is_set()  # cleared after its first pass, before it waits

    async with running(settings, relay.run):
        await eventually(relay_is_waiting)
        # A rolled-back transaction staged an event too: it must neither be published nor
        # leave the session flagged for a later commit.
        async with session_factory() as session:
            async with session.begin():
                await add_to_outbox(session, platform, topic, sample_event("k", 0))
                await session.rollback()
        event = sample_event("k", 1)
        async with session_factory() as session, session.begin():
            await add_to_outbox(session, platform, topic, event)
        records = await read_topic(infra.kafka_bootstrap_servers, topic, 1)
    await engine.dispose()
    assert [dict(r.headers)["ce_id"].decode() for r in records] == [str(event.id)]


async def test_an_outage_pauses_the_partition_instead_of_dead_lettering(db, settings, infra):
    """The database drops the handler's connection again and again (the server itself ends the
    session, as in a failover) for far longer than the record retries last: the event waits
    and is applied once, the next event of the same aggregate after it, and only a record
    that fails by itself reaches the dead-letter topic."""
    topic = f"test.outage.{uuid.uuid4().hex[:8]}"
    await ensure_topics(infra.kafka_bootstrap_servers, [topic])
    first, second, poison = (sample_event("one-aggregate", n) for n in (1, 2, 3))
    outage_left = {"attempts": 4 * settings.consumer_max_retries}
    applied: list[str] = []

    async def handler(session, event):
        if event.id == first.id and outage_left["attempts"] > 0:
            outage_left["attempts"] -= 1
            await session.execute(text("SELECT pg_terminate_backend(pg_backend_pid())"))
        if event.id == poison.id:
            raise ValueError("this record cannot be applied")
        await session.execute(effects.insert().values(event_id=str(event.id), n=len(applied)))
        applied.append(str(event.id))

    consumer = consumer_for(db, settings, topic, handler, consumer_fault_backoff_max_seconds=0.1)
    async with running(settings, consumer.run):
        await produce(infra.kafka_bootstrap_servers, topic, first, second, poison)
        dead = await read_topic(infra.kafka_bootstrap_servers, dead_letter_topic(topic), 1)

    assert outage_left["attempts"] == 0  # the outage really outlasted the record retries
    # Same key, same dead-letter partition: had the first event been dead-lettered, it would
    # stand before the poison record.
    assert [dict(r.headers)["ce_id"].decode() for r in dead] == [str(poison.id)]
    assert applied[-2:] == [str(first.id), str(second.id)]
    async with db() as session:
        rows = (
            await session.execute(
                select(effects.c.event_id, func.count())
                .group_by(effects.c.event_id)
                .where(effects.c.event_id.in_([str(first.id), str(second.id)]))
            )
        ).all()
    assert dict(rows) == {str(first.id): 1, str(second.id): 1}


@pytest.mark.parametrize(
    ("error", "parked"),
    [
        (MessageSizeTooLargeError(), True),  # the record itself: it can never go
        (ValueError("stored event is not an envelope"), True),
        (UnknownError(), False),  # the broker's own trouble (Tansu after a restart)
        (NotLeaderForPartitionError(), False),
        (KafkaConnectionError(), False),
        (ConnectionResetError(), False),
    ],
    ids=[
        "too large",
        "not an envelope",
        "unknown server error",
        "not leader",
        "connection",
        "reset",
    ],
)
def test_only_a_refusal_of_the_record_itself_parks_it(error, parked) -> None:
    """Parking sets an event aside until an operator acts: only for what no retry can mend;
    any other broker error tries the batch again."""
    assert refused_for_good(error) is parked


async def test_an_event_the_broker_refuses_is_parked_and_the_stream_goes_on(db, settings, infra):
    topic = f"test.park.{uuid.uuid4().hex[:8]}"
    await ensure_topics(infra.kafka_bootstrap_servers, [topic])
    before, after = sample_event("k", 1), sample_event("k", 3)
    # 100,000 emoji: within an HTTP body limit, but 1.2 MB once JSON-escaped in an event.
    huge = sample_event("k", 2)
    huge = huge.model_copy(update={"data": {**huge.data, "body": "\U0001f600" * 100_000}})
    async with db() as session, session.begin():
        for event in (before, huge, after):
            await add_to_outbox(session, platform, topic, event)
    relay = OutboxRelay(
        session_factory=db, tables=platform, clock=SystemClock(), lock_name=f"relay-{topic}"
    )
    async with running(settings, relay.run):
        records = await read_topic(infra.kafka_bootstrap_servers, topic, 2)
    assert [dict(r.headers)["ce_id"].decode() for r in records] == [str(before.id), str(after.id)]
    async with db() as session:
        parked = (
            await session.execute(
                select(platform.outbox.c.parked_at, platform.outbox.c.park_reason).where(
                    platform.outbox.c.event_id == huge.id
                )
            )
        ).one()
    assert parked.parked_at is not None
    assert "MessageSizeTooLarge" in parked.park_reason

    # The operator's commands: list it, inspect it, hand it back; refused again, it is parked
    # again with the broker's new answer, and the rows after it are not held up.
    operator = settings.model_copy(update={"db_schema": SCHEMA, "database_url": infra.database_url})
    listed = await operate(operator, "outbox", "parked", "--limit", "1000")
    mine = [row for row in listed if row["event_id"] == str(huge.id)]
    assert [(row["topic"], row["event_type"]) for row in mine] == [
        (topic, "redress.complaint.received.v1")
    ]
    assert "MessageSizeTooLarge" in mine[0]["park_reason"]
    [shown] = await operate(operator, "outbox", "show", str(mine[0]["id"]))
    assert shown["event"]["id"] == str(huge.id) and len(shown["event"]["data"]["body"]) == 100_000
    [handed_back] = await operate(operator, "outbox", "republish", str(mine[0]["id"]))
    assert handed_back["event_id"] == str(huge.id)
    assert await operate(operator, "outbox", "republish", str(mine[0]["id"])) == 1  # not parked
    async with running(settings, relay.run):

        async def parked_again():
            rows = await operate(operator, "outbox", "parked", "--limit", "1000")
            return [row for row in rows if row["event_id"] == str(huge.id)]

        [again] = await eventually(parked_again)
    assert again["parked_at"] > mine[0]["parked_at"]


async def operate(settings: ServiceSettings, *argv: str) -> list[dict] | int:
    """Run an operator command (``python -m <service> ...``) in process: its JSON lines, or
    its exit code when it fails."""
    out = io.StringIO()
    code = await run_operation(command_parser().parse_args(argv), settings, out)
    if code != 0:
        return code
    return [json.loads(line) for line in out.getvalue().splitlines()]


async def test_retention_keeps_the_outbox_and_inbox_bounded(db):
    from datetime import timedelta

    from redress_shared.clock import FixedClock
    from redress_shared.outbox import prune_outbox_and_inbox

    now = datetime.now(UTC)
    consumer = f"retention-{uuid.uuid4()}"
    old_published, recent_published, unpublished, parked = (sample_event("r", n) for n in range(4))
    async with db() as session, session.begin():
        for event in (old_published, recent_published, unpublished, parked):
            await add_to_outbox(session, platform, "test.retention", event)
        outbox = platform.outbox
        await session.execute(
            update(outbox)
            .where(outbox.c.event_id == old_published.id)
            .values(published_at=now - timedelta(days=8))
        )
        await session.execute(
            update(outbox)
            .where(outbox.c.event_id == recent_published.id)
            .values(published_at=now - timedelta(days=1))
        )
        await session.execute(
            update(outbox)
            .where(outbox.c.event_id == parked.id)
            .values(parked_at=now - timedelta(days=60), park_reason="too large")
        )
        ids = [uuid.uuid4() for _ in range(12_000)]  # more than one deletion chunk
        await session.execute(
            platform.inbox.insert(),
            [
                {
                    "consumer": consumer,
                    "event_id": event_id,
                    "event_type": "t",
                    "processed_at": now - timedelta(days=40 if n < 11_000 else 1),
                }
                for n, event_id in enumerate(ids)
            ],
        )
    pruned = await prune_outbox_and_inbox(
        db,
        platform,
        FixedClock(now),
        outbox_retention=timedelta(days=7),
        inbox_retention=timedelta(days=30),
    )
    assert pruned.outbox >= 1 and pruned.inbox >= 11_000
    async with db() as session:
        left = set(
            await session.scalars(
                select(outbox.c.event_id).where(outbox.c.topic == "test.retention")
            )
        )
        remembered = await session.scalar(
            select(func.count())
            .select_from(platform.inbox)
            .where(platform.inbox.c.consumer == consumer)
        )
    assert left == {recent_published.id, unpublished.id, parked.id}
    assert remembered == 1_000


async def test_a_dead_letter_is_listed_and_redriven_once_its_cause_is_fixed(db, settings, infra):
    topic = f"test.redrive.{uuid.uuid4().hex[:8]}"
    await ensure_topics(infra.kafka_bootstrap_servers, [topic])
    event = sample_event("k", 1)
    fixed = asyncio.Event()

    async def handler(session, received):
        if not fixed.is_set():
            raise ValueError("a bug in this release")
        await session.execute(effects.insert().values(event_id=str(received.id), n=1))

    consumer = consumer_for(db, settings, topic, handler)
    async with running(settings, consumer.run):
        await produce(infra.kafka_bootstrap_servers, topic, event)
        await read_topic(infra.kafka_bootstrap_servers, dead_letter_topic(topic), 1)
        letters = await operate(settings, "dead-letters", "list", "--topic", topic)
        assert [(d["event_id"], d["consumer"]) for d in letters] == [
            (str(event.id), consumer.group_id)
        ]
        assert "a bug in this release" in letters[0]["error"]
        assert letters[0]["source"].startswith(f"{topic}/")
        everywhere = await operate(settings, "dead-letters", "list")
        assert letters[0] in everywhere  # without --topic: every topic's dead letters
        position = f"{letters[0]['partition']}:{letters[0]['offset']}"
        [whole] = await operate(
            settings, "dead-letters", "show", "--topic", topic,
            "--partition", str(letters[0]["partition"]), "--offset", str(letters[0]["offset"]),
        )  # fmt: skip
        assert whole["headers"]["ce_id"] == str(event.id) and whole["key"] == "k"
        assert whole["data"]["reference"] == event.data["reference"]

        fixed.set()  # the corrected release is out
        for _ in range(2):  # twice, by mistake
            redrive = ("dead-letters", "redrive", "--topic", topic, "--entry", position)
            assert await operate(settings, *redrive) == [{"topic": topic, "redriven": 1}]

        async def applied():
            async with db() as session:
                return await session.scalar(
                    select(func.count()).where(effects.c.event_id == str(event.id))
                )

        await eventually(applied)

        async def second_copy_dropped():
            # What /metrics shows: the consumer met the second copy and dropped it.
            return EVENTS_CONSUMED.labels(consumer.group_id, "duplicate")._value.get() >= 1

        await eventually(second_copy_dropped)
        async with db() as session:
            inbox_done = await session.scalar(
                select(func.count())
                .select_from(platform.inbox)
                .where(platform.inbox.c.consumer == consumer.group_id)
            )
    assert await applied() == 1
    assert inbox_done == 1
