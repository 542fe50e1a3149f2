"""What the running analytics service costs per complaint at a steady rate: CPU of its process
and of PostgreSQL, and the statements it runs.

``python -m redress_stack.bench.analytics_live [--rates 60,200] [--seconds 30]``

Starts a private PostgreSQL (with ``pg_stat_statements``) and Tansu, the analytics service as
its own process (``python -m analytics_service``, the settings it ships with), waits until it
counts a first few complaints, measures its idle CPU, then for each rate produces, per
complaint, what the pipeline benchmark's stack publishes for it: ``complaint.received``
(distinct customers; three categories of one product, e-mail only, as
``redress_stack.bench.pipeline`` posts them, so every complaint joins a running incident),
``case.opened`` and ``notification.sent``. Once every complaint is counted it prints, per rate,
the CPU milliseconds per complaint of the analytics process and of PostgreSQL (every process
of the server; nothing else uses it), the statements and transactions, and, with
``--statements``, the statements by calls. CPU is less distorted by other load on the machine
than rates are, so use it to compare changes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import psutil
from aiokafka import AIOKafkaProducer
from analytics_service import MIGRATIONS_DIR
from redress_shared.broker import ensure_topics
from redress_shared.events import (
    CASE_OPENED,
    CASES_TOPIC,
    COMPLAINTS_TOPIC,
    NOTIFICATION_SENT,
    NOTIFICATIONS_TOPIC,
    CaseDueTimes,
    CaseOpenedV1,
    EventEnvelope,
    NotificationOutcomeV1,
    new_event,
)
from redress_shared.migrations import upgrade_to_head
from redress_shared.records import to_kafka_record
from redress_testing.case_stories import complaint_received

from redress_stack.bench.load import tree_cpu_seconds
from redress_stack.catalog import TOPICS
from redress_stack.infra import EmbeddedPostgres, TansuBroker, free_port

WARM_UP_COMPLAINTS = 20
CATEGORIES = ["product_defect", "delivery", "billing_error"]
# The statements a rate's report leaves out: the benchmark's own.
OWN_STATEMENTS = "query NOT ILIKE '%pg_stat_statements%' AND query NOT ILIKE '%bench_counted%'"


def complaint_events(index: int) -> list[tuple[str, EventEnvelope]]:
    """One complaint's events as the stack publishes them, as (topic, event)."""
    now = datetime.now(UTC)
    received = complaint_received(
        now,
        email=f"bench-{index}@example.com",
        customer_language="ro",
        reference=f"RDR-LIVE-{index:08d}",
        body="Încărcătorul nu mai funcționează.",
        language="ro",
        category=CATEGORIES[index % len(CATEGORIES)],
        sku="CH-20",
        supplier="Voltix",
        source="/bench",
    )
    complaint = received.payload()
    case_id = uuid.uuid4()
    opened = new_event(
        source="/bench",
        type=CASE_OPENED,
        key=str(case_id),
        time=now,
        payload=CaseOpenedV1(
            case_id=case_id,
            complaint_id=complaint.complaint_id,
            reference=complaint.reference,
            status="new",
            priority="normal",
            channel="api",
            opened_at=now,
            customer=complaint.customer,
            supplier=complaint.supplier,
            due=CaseDueTimes(
                acknowledge_by=now + timedelta(hours=4),
                first_response_by=now + timedelta(days=1),
                resolve_by=now + timedelta(days=10),
            ),
            sla_policy="standard",
        ),
    )
    sent = new_event(
        source="/bench",
        type=NOTIFICATION_SENT,
        key=str(case_id),
        time=now,
        payload=NotificationOutcomeV1(
            notification_id=uuid.uuid4(),
            case_id=case_id,
            trigger_event_id=opened.id,
            template="acknowledgement",
            channel="email",
            status="sent",
            attempts=1,
            occurred_at=now,
        ),
    )
    return [(COMPLAINTS_TOPIC, received), (CASES_TOPIC, opened), (NOTIFICATIONS_TOPIC, sent)]


def postmaster_pid(postgres: EmbeddedPostgres) -> int:
    """The PostgreSQL server's process (its backends are its children)."""
    return int((postgres.pgdata / "postmaster.pid").read_text().split()[0])


class Producer:
    """Publishes complaints' events onto Tansu, acks=all, without waiting for each."""

    def __init__(self, bootstrap_servers: str) -> None:
        self._producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap_servers, acks="all", linger_ms=5
        )
        self._pending: list[asyncio.Future] = []

    async def __aenter__(self) -> Producer:
        await self._producer.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._producer.stop()

    async def send(self, index: int) -> None:
        for topic, event in complaint_events(index):
            key, value, headers = to_kafka_record(event)
            self._pending.append(
                await self._producer.send(topic, value=value, key=key, headers=headers)
            )

    async def flush(self) -> None:
        await asyncio.gather(*self._pending)
        self._pending = []


async def counted(connection: asyncpg.Connection) -> int:
    """Complaints the service has counted so far."""
    return await connection.fetchval(
        "SELECT count(*) FROM analytics.complaint_facts /* bench_counted */"
    )


async def until_counted(connection: asyncpg.Connection, expected: int, limit: float) -> None:
    """Wait until ``expected`` complaints are counted; fail after ``limit`` seconds."""
    deadline = time.monotonic() + limit
    while await counted(connection) < expected:
        if time.monotonic() > deadline:
            raise AssertionError(f"{expected} complaints not counted within {limit:.0f} s")
        await asyncio.sleep(0.5)


async def offer(
    connection: asyncpg.Connection,
    producer: Producer,
    postgres: EmbeddedPostgres,
    service: psutil.Process,
    rate: float,
    seconds: float,
) -> dict:
    """Produce ``rate`` complaints a second for ``seconds``, wait until all are counted, and
    report the CPU and statements they cost."""
    await connection.execute("SELECT pg_stat_statements_reset()")
    before = await counted(connection)
    total = int(rate * seconds)
    server = postmaster_pid(postgres)
    service_before, server_before = tree_cpu_seconds(service.pid), tree_cpu_seconds(server)
    started = time.monotonic()
    for index in range(total):
        pause = started + index / rate - time.monotonic()
        if pause > 0:
            await asyncio.sleep(pause)
        await producer.send(int(rate) * 10_000_000 + index)
    await producer.flush()
    await until_counted(connection, before + total, seconds + 600)
    wall = time.monotonic() - started
    service_cpu = tree_cpu_seconds(service.pid) - service_before
    server_cpu = tree_cpu_seconds(server) - server_before
    statements = await connection.fetchval(
        f"SELECT coalesce(sum(calls), 0) FROM pg_stat_statements WHERE {OWN_STATEMENTS}"
    )
    commits = await connection.fetchval(
        "SELECT coalesce(sum(calls), 0) FROM pg_stat_statements WHERE query ILIKE 'COMMIT%'"
    )
    return {
        "benchmark": f"analytics live at {rate:g} complaints/s",
        "complaints": total,
        "seconds": round(wall, 1),
        "analytics_cpu_ms_per_complaint": round(service_cpu * 1000 / total, 3),
        "postgres_cpu_ms_per_complaint": round(server_cpu * 1000 / total, 3),
        "statements": int(statements),
        "transactions": int(commits),
    }


async def statements_by_calls(connection: asyncpg.Connection, limit: int = 25) -> list[str]:
    """The statements since the last reset, most called first, one line each."""
    rows = await connection.fetch(
        "SELECT calls, round(total_exec_time::numeric, 1) AS ms, "
        "left(regexp_replace(query, '\\s+', ' ', 'g'), 120) AS query "
        f"FROM pg_stat_statements WHERE {OWN_STATEMENTS} ORDER BY calls DESC LIMIT {limit}"
    )
    return [f"{row['calls']:>8} {row['ms']:>9} ms  {row['query']}" for row in rows]


async def with_statement_statistics(postgres: EmbeddedPostgres, url: str) -> None:
    """Restart PostgreSQL with ``pg_stat_statements`` loaded and create the extension."""
    connection = await asyncpg.connect(url)
    await connection.execute("ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'")
    await connection.close()
    postgres.stop()
    postgres.start()
    connection = await asyncpg.connect(url)
    await connection.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
    await connection.close()


async def run(root: Path, rates: list[float], seconds: float, show_statements: bool) -> None:
    postgres = EmbeddedPostgres(root / "postgres", free_port(), root / "logs")
    postgres.start()
    broker = TansuBroker(free_port(), root / "logs")
    service = None
    try:
        postgres.create_database("redress")
        url = postgres.url("redress", driver="postgresql")
        await with_statement_statistics(postgres, url)
        broker.start()
        await ensure_topics(broker.bootstrap_servers, TOPICS)
        database_url = postgres.url("redress")
        await asyncio.to_thread(upgrade_to_head, database_url, MIGRATIONS_DIR, "analytics")
        environment = dict(
            os.environ,
            REDRESS_DATABASE_URL=database_url,
            REDRESS_KAFKA_BOOTSTRAP_SERVERS=broker.bootstrap_servers,
            REDRESS_ADMIN_API_KEY=f"rdr_bench_{uuid.uuid4().hex}",
            REDRESS_HTTP_PORT=str(free_port()),
            REDRESS_LOG_LEVEL="WARNING",
        )
        log = (root / "logs" / "analytics.log").open("w")
        service = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "analytics_service", env=environment, stdout=log, stderr=log
        )
        log.close()  # the child has its own descriptor
        process = psutil.Process(service.pid)
        connection = await asyncpg.connect(url)
        async with Producer(broker.bootstrap_servers) as producer:
            for index in range(WARM_UP_COMPLAINTS):
                await producer.send(index)
            await producer.flush()
            await until_counted(connection, WARM_UP_COMPLAINTS, 180)
            idle_before, idle_started = tree_cpu_seconds(process.pid), time.monotonic()
            await asyncio.sleep(10)
            idle = (tree_cpu_seconds(process.pid) - idle_before) / (time.monotonic() - idle_started)
            line = {"benchmark": "analytics idle", "cpu_ms_per_second": round(idle * 1000, 1)}
            print(json.dumps(line), flush=True)
            for rate in rates:
                line = await offer(connection, producer, postgres, process, rate, seconds)
                print(json.dumps(line), flush=True)
                if show_statements:
                    print("\n".join(await statements_by_calls(connection)), flush=True)
        await connection.close()
    finally:
        if service is not None and service.returncode is None:
            service.terminate()
            await asyncio.wait_for(service.wait(), 30)
        broker.stop()
        postgres.stop()


def main() -> None:
    """Parse the flags, run, print one JSON line per result."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rates", default="60,200", help="complaints/s, one run each")
    parser.add_argument("--seconds", type=float, default=30.0, help="how long each rate")
    parser.add_argument("--statements", action="store_true", help="list statements by calls")
    args = parser.parse_args()
    rates = [float(rate) for rate in args.rates.split(",")]
    with tempfile.TemporaryDirectory(prefix="redress-bench-analytics-live-") as root:
        asyncio.run(run(Path(root), rates, args.seconds, args.statements))


if __name__ == "__main__":
    main()
