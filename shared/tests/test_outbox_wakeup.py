"""The outbox relay is woken across processes by PostgreSQL (LISTEN/NOTIFY), and keeps being
woken after its listening connection is cut. Every relay here polls once an hour: an event
that goes out was announced, not polled for."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer
from redress_shared.broker import create_producer, ensure_topics
from redress_shared.clock import SystemClock
from redress_shared.db import PlatformTables, create_session_factory
from redress_shared.events import ComplaintReceivedV1, CustomerContact, new_event
from redress_shared.outbox import (
    OutboxRelay,
    add_to_outbox,
    outbox_channel,
    outbox_wakeup_statements,
)
from redress_shared.settings import ServiceSettings
from redress_testing import eventually
from sqlalchemy import MetaData, text
from sqlalchemy.ext.asyncio import create_async_engine

SCHEMA = "wakeup_test"
platform = PlatformTables(MetaData(schema=SCHEMA))
AN_HOUR = 3600.0


@pytest.fixture(scope="module")
async def engine(infra):
    engine = create_async_engine(infra.database_url)
    async with engine.begin() as connection:
        await connection.execute(text(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}"))
        await connection.run_sync(platform.outbox.metadata.create_all)
        for statement in outbox_wakeup_statements(SCHEMA):  # what the migrations install
            await connection.exec_driver_sql(statement)
    yield engine
    await engine.dispose()


@pytest.fixture
def settings(infra) -> ServiceSettings:
    return ServiceSettings(
        service_name="wakeup-test", kafka_bootstrap_servers=infra.kafka_bootstrap_servers
    )


def sample_event(key: str):
    payload = ComplaintReceivedV1(
        complaint_id=uuid.uuid4(),
        reference="RDR-2026-000001",
        received_at=datetime.now(UTC),
        channel="api",
        customer=CustomerContact(customer_key=key, email="a@example.com"),
        body="wake up",
    )
    return new_event(
        source="/test",
        type="redress.complaint.received.v1",
        key=key,
        payload=payload,
        time=datetime.now(UTC),
    )


async def write_elsewhere(infra, topic: str, event) -> None:
    """Stage ``event`` as another process would: its own connection, no hook of this one."""
    other = create_async_engine(infra.database_url)
    try:
        async with create_session_factory(other)() as session, session.begin():
            await add_to_outbox(session, platform, topic, event)
    finally:
        await other.dispose()


class Reader:
    """The event ids published on one topic, read as they arrive."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self._consumer = AIOKafkaConsumer(
            topic,
            bootstrap_servers=bootstrap,
            group_id=f"reader-{uuid.uuid4()}",
            auto_offset_reset="earliest",
        )
        self.ids: list[str] = []

    async def __aenter__(self) -> Reader:
        await self._consumer.start()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self._consumer.stop()

    async def has(self, event) -> bool:
        for batch in (await self._consumer.getmany(timeout_ms=300)).values():
            self.ids.extend(dict(record.headers)["ce_id"].decode() for record in batch)
        return str(event.id) in self.ids


@pytest.fixture
async def relay(engine, settings, infra):
    """A relay that polls once an hour and listens on the test schema's channel, running;
    yields it and its topic once it listens."""
    topic = f"test.wakeup.{uuid.uuid4().hex[:8]}"
    await ensure_topics(infra.kafka_bootstrap_servers, [topic])
    relay = OutboxRelay(
        session_factory=create_session_factory(engine),
        tables=platform,
        clock=SystemClock(),
        lock_name=f"relay-{topic}",
        poll_interval=AN_HOUR,
        notify_channel=outbox_channel(SCHEMA),
    )
    producer = create_producer(settings)
    await producer.start()
    task = asyncio.create_task(relay.run(producer))

    async def listening() -> bool:
        return relay.listener.backend_pid is not None

    await eventually(listening)
    try:
        yield relay, topic
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await producer.stop()


async def test_a_row_written_by_another_process_is_published_without_waiting_for_the_poll(
    relay, infra
):
    relay, topic = relay
    async with Reader(infra.kafka_bootstrap_servers, topic) as reader:
        # Through another process's session, and by an operator's plain SQL: the trigger
        # notifies for both, whoever wrote the row.
        event = sample_event("k")
        await write_elsewhere(infra, topic, event)
        await eventually(lambda: reader.has(event))
        by_hand = sample_event("k")
        await insert_with_plain_sql(infra, topic, by_hand)
        await eventually(lambda: reader.has(by_hand))
    assert reader.ids == [str(event.id), str(by_hand.id)]


async def insert_with_plain_sql(infra, topic: str, event) -> None:
    connection = await asyncpg.connect(
        infra.database_url.replace("postgresql+asyncpg", "postgresql")
    )
    try:
        await connection.execute(
            f"INSERT INTO {SCHEMA}.outbox (event_id, topic, message_key, event) "
            "VALUES ($1, $2, $3, $4::jsonb)",
            event.id,
            topic,
            event.key,
            event.model_dump_json(),
        )
    finally:
        await connection.close()


async def test_the_relay_listens_again_after_its_connection_is_terminated(relay, infra, engine):
    relay, topic = relay
    first_pid = relay.listener.backend_pid
    async with engine.connect() as connection:
        assert (
            await connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": first_pid})
        ).scalar_one()
    # Written while the listener may still be reconnecting: no notification reaches it, and
    # the relay finds the row when it listens again (it looks once it does).
    during = sample_event("k")
    await write_elsewhere(infra, topic, during)

    async def listening_again() -> bool:
        return relay.listener.backend_pid not in (None, first_pid)

    await eventually(listening_again)
    after = sample_event("k")
    async with Reader(infra.kafka_bootstrap_servers, topic) as reader:
        await write_elsewhere(infra, topic, after)
        await eventually(lambda: reader.has(after))
    assert reader.ids == [str(during.id), str(after.id)]
