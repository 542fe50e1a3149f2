"""Case opening: how fast the case service turns ``complaint.received`` events into cases.

``python -m redress_stack.bench.cases [--burst 5000] [--rates 200,400,800] [--seconds 20]
[--per-event] [--profile FILE]``

Starts a private PostgreSQL and Tansu (temporary folder, free ports) and the case service in
this process (its consumer, outbox relay and deadline timer; the HTTP side is idle), then:

1. **Burst** (``--burst N``): produces N distinct complaints while the service is stopped,
   starts it and times until every one has its case: cases opened per second, the consumer's
   drain rate of a backlog (an outage spike). Timed from the first case on (joining the
   consumer group is not case opening), so the first fetched batch is not counted.
2. **Rate** (``--rates``): with the service running, a producer in its own process (as
   intake is) offers complaints at each fixed rate for ``--seconds``; reports cases opened
   per second (from the first complaint acknowledged by the broker to the last case
   readable) and p50/p99 event -> case readable (from the moment the producer had the event
   acknowledged to the moment a poll of the ``cases`` table sees the case committed; polls
   every 50 ms).

The service logs as it does in production (JSON lines at INFO, here to a file in the
temporary folder).

Each complaint has its own customer key (as in an outage: many customers). ``--per-event``
runs the consumer without the batch handler (one use case per event, as before issue 13),
for a before/after comparison. ``--profile FILE`` writes a cProfile of the whole run.
Ends by checking that every complaint has exactly one case (a benchmark that loses or
doubles work fails). One JSON line per result.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from aiokafka import AIOKafkaProducer
from case_service import MIGRATIONS_DIR, consumers, tables
from case_service.bootstrap import build_app
from case_service.config import CaseSettings
from redress_shared.broker import ensure_topics
from redress_shared.events import COMPLAINTS_TOPIC, EventEnvelope
from redress_shared.kafka import EventConsumer
from redress_shared.migrations import upgrade_to_head
from redress_shared.observability import configure_logging
from redress_shared.records import to_kafka_record
from redress_testing import TestInfra, running_app, start_test_infra
from redress_testing.case_stories import complaint_received
from sqlalchemy import bindparam, func, select
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from redress_stack.bench.stats import summary

CATEGORIES = ["product_defect", "delivery", "billing_error", "service", "outage", "other"]
CHANNELS = ["api", "email", "phone", "chat", "social"]
POLL_SECONDS = 0.05


def complaint_event(index: int, run: str) -> EventEnvelope:
    """A distinct complaint of its own customer, received now."""
    return complaint_received(
        datetime.now(UTC),
        customer_key=f"bench-{run}-{index}",
        email=f"c{index}@example.com",
        customer_language="en",
        channel=CHANNELS[index % len(CHANNELS)],
        reference=f"RDR-BENCH-{run}-{index:07d}",
        subject="The power is out in our street",
        body="Since this morning nothing works. Please help.",
        category=CATEGORIES[index % len(CATEGORIES)],
        sku=f"SKU-{index % 50}",
        supplier=f"Supplier-{index % 7}",
        source="/bench",
    )


class Producer:
    """Sends complaints and remembers when the broker acknowledged each one."""

    def __init__(self, bootstrap: str) -> None:
        self._producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
        self.acked: dict[uuid.UUID, float] = {}

    async def __aenter__(self) -> Producer:
        await self._producer.start()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self._producer.stop()

    async def send(self, index: int, run: str) -> asyncio.Future:
        event = complaint_event(index, run)
        complaint_id = uuid.UUID(event.data["complaint_id"])
        key, value, headers = to_kafka_record(event)
        future = await self._producer.send(COMPLAINTS_TOPIC, value=value, key=key, headers=headers)
        future.add_done_callback(lambda _f: self.acked.setdefault(complaint_id, time.time()))
        return future


async def poll_cases(
    engine: AsyncEngine, pending: set[uuid.UUID], seen: dict[uuid.UUID, float]
) -> None:
    """One look at which complaints in ``pending`` have their case now."""
    cases = tables.cases
    async with engine.connect() as connection:
        found = await connection.scalars(
            select(cases.c.complaint_id).where(
                cases.c.complaint_id == func.any(bindparam("ids", list(pending), ARRAY(UUID)))
            )
        )
        now = time.time()
        for complaint_id in found:
            seen[complaint_id] = now
            pending.discard(complaint_id)


async def count_cases(engine: AsyncEngine) -> int:
    """How many cases there are."""
    async with engine.connect() as connection:
        return await connection.scalar(select(func.count()).select_from(tables.cases))


async def cases_reach(engine: AsyncEngine, count: int) -> int:
    """Poll until there are at least ``count`` cases; return how many there are."""
    while True:
        found = await count_cases(engine)
        if found >= count:
            return found
        await asyncio.sleep(POLL_SECONDS)


def bench_app(settings: CaseSettings, per_event: bool):  # noqa: ANN201
    """The case service as it runs; ``per_event`` swaps its consumer for one without the
    batch handler (the path before issue 13)."""
    app = build_app(settings)
    runtime = app.state.runtime
    if per_event:
        runtime.consumers[:] = [
            EventConsumer(
                group_id=consumers.GROUP_ID,
                topics=consumers.TOPICS,
                handlers=consumers.handlers(runtime.clock),
                session_factory=runtime.session_factory,
                tables=runtime.tables,
                settings=settings,
            )
        ]
    return app


async def burst(settings: CaseSettings, engine: AsyncEngine, count: int, per_event: bool) -> dict:
    """A backlog of ``count`` complaints, then the service starts: its drain rate."""
    run = uuid.uuid4().hex[:8]
    async with Producer(settings.kafka_bootstrap_servers) as producer:
        futures = [await producer.send(i, run) for i in range(count)]
        await asyncio.gather(*futures)
    before = await count_cases(engine)
    async with running_app(bench_app(settings, per_event), settings):
        # Timed from the first case on: joining the consumer group is not case opening.
        first = await cases_reach(engine, before + 1)
        started = time.time()
        await cases_reach(engine, before + count)
        seconds = time.time() - started
    count -= first - before
    path = "per event" if per_event else "batch"
    return summary(f"cases: backlog of {count} complaints drained ({path})", count, seconds, [])


async def outbox_drained(engine: AsyncEngine) -> None:
    """Wait until the relay has published every staged event."""
    outbox = tables.platform.outbox
    while True:
        async with engine.connect() as connection:
            waiting = await connection.scalar(
                select(func.count()).select_from(outbox).where(outbox.c.published_at.is_(None))
            )
        if not waiting:
            return
        await asyncio.sleep(POLL_SECONDS)


async def offer_at(bootstrap: str, rate: int, seconds: float) -> None:
    """Send ``rate`` complaints a second for ``seconds``, printing ``complaint_id ack_time``
    as the broker acknowledges each (the producer process, see ``--produce-to``)."""
    run = uuid.uuid4().hex[:8]
    async with Producer(bootstrap) as producer:
        started = time.time()
        futures = []
        for index in range(int(rate * seconds)):
            delay = started + index / rate - time.time()
            if delay > 0:
                await asyncio.sleep(delay)
            futures.append(await producer.send(index, run))
            if len(producer.acked) >= 50:
                flush_acks(producer.acked)
        await asyncio.gather(*futures)
        flush_acks(producer.acked)


def flush_acks(acked: dict[uuid.UUID, float]) -> None:
    sys.stdout.write("".join(f"{c} {t}\n" for c, t in acked.items()))
    sys.stdout.flush()
    acked.clear()


async def offered(
    engine: AsyncEngine, bootstrap: str, rate: int, seconds: float, path: str
) -> dict:
    """Complaints offered at ``rate`` per second for ``seconds`` to the running service by
    a producer in its own process (as intake is): cases/s (until the last case is readable)
    and event -> case readable latency."""
    acked: dict[uuid.UUID, float] = {}
    seen: dict[uuid.UUID, float] = {}
    producer = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "redress_stack.bench.cases",
        "--produce-to",
        bootstrap,
        "--rates",
        str(rate),
        "--seconds",
        str(seconds),
        stdout=asyncio.subprocess.PIPE,
    )

    async def read_acks() -> None:
        assert producer.stdout is not None
        async for line in producer.stdout:
            complaint_id, at = line.decode().split()
            acked[uuid.UUID(complaint_id)] = float(at)
        if await producer.wait():
            raise RuntimeError(f"the producer failed ({producer.returncode})")

    reading = asyncio.create_task(read_acks())
    pending: set[uuid.UUID] = set()
    while not reading.done() or pending or len(seen) < len(acked):
        pending.update(acked.keys() - seen.keys() - pending)
        if pending:
            await poll_cases(engine, pending, seen)
        await asyncio.sleep(POLL_SECONDS)
    await reading
    # From the first acknowledged complaint (not the producer process's start) to the last
    # case readable.
    total = max(seen.values()) - min(acked.values())
    latencies = [seen[c] - acked[c] for c in acked]
    return summary(
        f"cases: {rate}/s offered for {seconds:g} s, event -> case readable ({path})",
        len(latencies),
        total,
        latencies,
    )


async def rates(
    settings: CaseSettings, engine: AsyncEngine, args: argparse.Namespace
) -> list[dict]:
    """Each offered rate in turn, against one running service (warmed up first: its
    consumer has joined its group and opened cases)."""
    path = "per event" if args.per_event else "batch"
    bootstrap = settings.kafka_bootstrap_servers
    results = []
    async with running_app(bench_app(settings, args.per_event), settings):
        await offered(engine, bootstrap, 10, 1, path)  # warm-up, not reported
        await outbox_drained(engine)  # the burst's case.opened events are published first
        for rate in args.rates:
            results.append(await offered(engine, bootstrap, rate, args.seconds, path))
            print(json.dumps(results[-1]), flush=True)
    return results


async def exactly_one_case_each(engine: AsyncEngine) -> dict:
    """Every complaint has one case and every case one ``opened`` history entry."""
    cases, history = tables.cases, tables.case_history
    async with engine.connect() as connection:
        count = await connection.scalar(select(func.count()).select_from(cases))
        complaints = await connection.scalar(select(func.count(cases.c.complaint_id.distinct())))
        opened = await connection.scalar(
            select(func.count()).select_from(history).where(history.c.action == "opened")
        )
    assert count == complaints == opened, (count, complaints, opened)
    return {"benchmark": "cases: exactly one case per complaint", "count": count, "ok": True}


async def run(args: argparse.Namespace, infra: TestInfra) -> None:
    settings = CaseSettings(
        database_url=infra.database_url,
        kafka_bootstrap_servers=infra.kafka_bootstrap_servers,
        admin_api_key=infra.admin_key,
    )
    await asyncio.to_thread(
        upgrade_to_head, settings.database_url, MIGRATIONS_DIR, settings.db_schema
    )
    await ensure_topics(infra.kafka_bootstrap_servers, [COMPLAINTS_TOPIC])
    engine = create_async_engine(settings.database_url)
    try:
        if args.burst:
            print(json.dumps(await burst(settings, engine, args.burst, args.per_event)), flush=True)
        if args.rates:
            await rates(settings, engine, args)
        print(json.dumps(await exactly_one_case_each(engine)), flush=True)
    finally:
        await engine.dispose()


def main() -> None:
    """Parse the flags, start the private infrastructure, print one JSON line per result."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--burst", type=int, default=5000, help="backlog size (0: none)")
    parser.add_argument(
        "--rates",
        type=lambda text: [int(r) for r in text.split(",") if r],
        default=[200, 400, 800],
        help="offered rates, comma-separated (empty: none)",
    )
    parser.add_argument("--seconds", type=float, default=20.0, help="how long each rate")
    parser.add_argument("--per-event", action="store_true", help="without the batch handler")
    parser.add_argument("--profile", type=Path, help="write a cProfile of the run here")
    parser.add_argument("--produce-to", help=argparse.SUPPRESS)  # the producer process
    args = parser.parse_args()
    if args.produce_to:
        asyncio.run(offer_at(args.produce_to, args.rates[0], args.seconds))
        return
    with tempfile.TemporaryDirectory(prefix="redress-bench-cases-") as root:
        infra, stoppers = start_test_infra(Path(root))
        # Log as the service does (JSON at INFO), into a file rather than over the results.
        configure_logging("case-service", "INFO", open(Path(root) / "case-service.log", "w"))  # noqa: SIM115
        profiler = cProfile.Profile() if args.profile else None
        try:
            if profiler:
                profiler.enable()
            asyncio.run(run(args, infra))
        finally:
            if profiler:
                profiler.disable()
                profiler.dump_stats(args.profile)
            for stop in reversed(stoppers):
                stop()


if __name__ == "__main__":
    main()
