"""Analytics under an outage: a burst of similar complaints, then a replay of the whole log.

``python -m redress_stack.bench.analytics_burst [--burst N] [--step K] [--stories S]``

Starts a private PostgreSQL and Tansu (temporary folder, free ports), then:

1. **Burst** (measured): ``N`` (default 20 000) ``complaint.received`` events of one incident
   group (one category, one product, one country, distinct customers, receipt times over the
   last twenty minutes) are produced onto Tansu first, then the analytics consumer code path
   (the service's handlers, batch handler and inbox, ``EventConsumer.replay``) reads them. The
   rate is printed for every successive ``K`` (default 5 000) complaints counted, so a step that
   grows with the burst shows as a falling rate. At the end the burst must be exactly one
   incident holding every complaint (a benchmark that loses work has failed).
2. **Stories** (not measured): ``S`` (default 5 000) complaints with their case stories (the
   stream of ``redress_stack.bench.analytics``) are produced onto the same topics.
3. **Replay** (measured): ``analytics_service.rebuild`` replays the whole log (burst and
   stories) from offset 0 into a fresh schema through the same consumer code path and compares
   it with the live facts; reported as events per second (records read / wall time of the
   rebuild, schema copy and comparison included), and it must find the facts identical.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aiokafka import AIOKafkaProducer
from analytics_service import consumers, rebuild, tables
from analytics_service.config import AnalyticsSettings
from redress_shared.clock import SystemClock
from redress_shared.db import create_session_factory
from redress_shared.events import COMPLAINTS_TOPIC, EventEnvelope
from redress_shared.kafka import EventConsumer
from redress_shared.records import to_kafka_record
from redress_shared.runtime import tune_garbage_collector
from redress_testing import TestInfra, start_test_infra
from redress_testing.case_stories import complaint_received
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import create_async_engine

from redress_stack.bench.analytics import complaint_events, migrated_settings
from redress_stack.bench.stats import summary

BURST_SPAN = timedelta(minutes=20)


def burst_event(index: int, end: datetime, rng: random.Random) -> EventEnvelope:
    """One complaint of the outage: same category, product and country."""
    return complaint_received(
        end - BURST_SPAN * rng.random(),
        customer_key=f"burst-customer-{index}",
        phone=f"+37129{rng.randrange(10**6):06d}",
        email=None,
        channel="phone",
        reference=f"RDR-BURST-{index:07d}",
        body="…",
        language="lv",
        category="outage",
        sku="ROUTER-X1",
        supplier="Supplier-00",
        source="/bench",
    )


async def produce(bootstrap: str, records: list[tuple[str, object]]) -> None:
    """Publish (topic, event) pairs, acks=all."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=20)
    await producer.start()
    try:
        pending = []
        for topic, event in records:
            key, value, headers = to_kafka_record(event)
            pending.append(await producer.send(topic, value=value, key=key, headers=headers))
            if len(pending) >= 2000:
                await asyncio.gather(*pending)
                pending = []
        await asyncio.gather(*pending)
    finally:
        await producer.stop()


def analytics_consumer(settings: AnalyticsSettings, session_factory) -> EventConsumer:  # noqa: ANN001
    """The service's own consumer (handlers, batch handler, inbox)."""
    clock = SystemClock()
    extra = {}
    if hasattr(consumers, "batch_handler"):
        extra["batch_handler"] = consumers.batch_handler(settings, clock)
    return EventConsumer(
        group_id=consumers.GROUP_ID,
        topics=consumers.TOPICS,
        handlers=consumers.handlers(settings, clock),
        session_factory=session_factory,
        tables=tables.platform,
        settings=settings,
        **extra,
    )


async def burst(settings: AnalyticsSettings, size: int, step: int) -> list[dict]:
    """Produce the burst, then ingest it, timing each ``step`` complaints counted."""
    rng = random.Random(11)
    end = datetime.now(UTC)
    await produce(
        settings.kafka_bootstrap_servers,
        [(COMPLAINTS_TOPIC, burst_event(i, end, rng)) for i in range(size)],
    )
    engine = create_async_engine(settings.database_url)
    consumer = analytics_consumer(settings, create_session_factory(engine))
    facts = tables.complaint_facts
    results: list[dict] = []
    started = time.perf_counter()
    replay = asyncio.create_task(consumer.replay())
    marks, last_mark, last_time = list(range(step, size + 1, step)), 0, started
    async with engine.connect() as connection:
        while marks:
            counted = await connection.scalar(select(func.count()).select_from(facts))
            await connection.commit()
            now = time.perf_counter()
            while marks and counted >= marks[0]:
                line = summary(
                    f"analytics burst ingest, complaints {last_mark + 1}-{marks[0]} of one group",
                    marks[0] - last_mark,
                    now - last_time,
                    [],
                )
                print(json.dumps(line), flush=True)
                results.append(line)
                last_mark, last_time = marks.pop(0), now
            if replay.done():
                replay.result()
                if marks and counted < marks[0]:
                    raise AssertionError(f"only {counted} of {size} complaints counted")
            await asyncio.sleep(0.05)
    await replay
    seconds = time.perf_counter() - started
    line = summary(f"analytics burst ingest, {size} complaints of one group", size, seconds, [])
    print(json.dumps(line), flush=True)
    results.append(line)
    alerts, members = tables.alerts, tables.incident_members
    async with engine.connect() as connection:
        incidents = (
            await connection.execute(
                select(alerts.c.id, alerts.c.subject, alerts.c.count).where(
                    alerts.c.kind == "incident"
                )
            )
        ).all()
        held = await connection.scalar(select(func.count(func.distinct(members.c.complaint_id))))
    await engine.dispose()
    assert len(incidents) == 1 and incidents[0].count == size == held, (incidents, held)
    return results


async def replay_all(settings: AnalyticsSettings, stories: int) -> dict:
    """Add complaint stories to the log, ingest them, then time a rebuild of the whole log."""
    rng = random.Random(7)
    end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    records = [pair for i in range(stories) for pair in complaint_events(i, end, rng)]
    await produce(settings.kafka_bootstrap_servers, records)
    engine = create_async_engine(settings.database_url)
    consumer = analytics_consumer(settings, create_session_factory(engine))
    await consumer.replay()
    await engine.dispose()
    started = time.perf_counter()
    report = await rebuild.rebuild(settings)
    seconds = time.perf_counter() - started
    assert report.identical and not report.failed_records, report.as_dict()
    line = summary(
        "analytics replay of the whole log (rebuild, compare mode)",
        report.records_read,
        seconds,
        [],
    )
    print(json.dumps(line), flush=True)
    return line


async def run(size: int, step: int, stories: int, infra: TestInfra) -> list[dict]:
    """The burst, then the replay."""
    settings = await migrated_settings(infra)
    results = await burst(settings, size, step) if size else []
    if stories:
        results.append(await replay_all(settings, stories))
    return results


def main() -> None:
    """Parse the flags and print one JSON line per result."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--burst", type=int, default=20_000, help="complaints in the burst")
    parser.add_argument("--step", type=int, default=5_000, help="report the rate every K")
    parser.add_argument(
        "--stories", type=int, default=5_000, help="complaints with case stories for the replay"
    )
    args = parser.parse_args()
    tune_garbage_collector()  # as every service process does
    with tempfile.TemporaryDirectory(prefix="redress-bench-burst-") as root:
        infra, stoppers = start_test_infra(Path(root))
        try:
            asyncio.run(run(args.burst, args.step, args.stories, infra))
        finally:
            for stop in reversed(stoppers):
                stop()


if __name__ == "__main__":
    main()
