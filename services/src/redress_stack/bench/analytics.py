"""Analytics at scale: ingest of a long history through the consumer, then the latency of every
figure endpoint over it.

``python -m redress_stack.bench.analytics [--complaints N] [--requests R]``

Starts a private PostgreSQL and Tansu (temporary folder, free ports), then:

1. **History** (not measured): produces ``N`` complaints' worth of events onto Tansu, in the
   order a real log holds them (by receipt, ``COMPLAINTS_PER_PERIOD`` complaints every four
   weeks, so a million span about four years): for each complaint ``complaint.received``,
   ``case.opened`` (97 %), ``case.status_changed`` for the acknowledgement and the resolution,
   ``case.decision_recorded`` (60 %, a tenth of them decided twice), ``case.sla_breached``
   (5 %), ``case.remedy_changed`` (30 %), ``case.satisfaction_recorded`` (20 %), over several
   suppliers, categories, channels and languages.
2. **Ingest** (measured): the analytics consumer code path (the service's own handlers, batch
   handler and inbox, ``EventConsumer.replay``) reads every one of those events from offset 0
   into the service's tables. Nothing is copied with SQL: every fact, counter and alert the
   figures read was made by the consumer. Reported as events per second and the wall time.
3. **Figures** (measured): every ``GET /v1/analytics/*`` endpoint the service has, with every
   value of its enum parameters (trend buckets and group-bys, ...), over the last year (the
   last 30 days for hourly trends), ``R`` requests each, in process (ASGI, no network).

Default: 50 000 complaints (about 255 000 events, a minute or two of ingest on a small
machine). ``--complaints 1000000`` is the one-million-complaint run (about 5.1 million events).
Figures depend on the machine; the README quotes runs.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import random
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aiokafka import AIOKafkaProducer
from analytics_service import MIGRATIONS_DIR, consumers, tables
from analytics_service.bootstrap import build_app
from analytics_service.config import AnalyticsSettings
from analytics_service.rebuild import fact_tables
from redress_shared.clock import SystemClock
from redress_shared.db import create_session_factory
from redress_shared.events import (
    CASE_DECISION_RECORDED,
    CASE_OPENED,
    CASE_REMEDY_CHANGED,
    CASE_SATISFACTION_RECORDED,
    CASE_SLA_BREACHED,
    CASE_STATUS_CHANGED,
    CASES_TOPIC,
    COMPLAINT_RECEIVED,
    COMPLAINTS_TOPIC,
    CaseDecisionRecordedV1,
    CaseDueTimes,
    CaseOpenedV1,
    CaseRemedyChangedV1,
    CaseSatisfactionRecordedV1,
    CaseSlaV1,
    CaseStatusChangedV1,
    ComplaintReceivedV1,
    CustomerContact,
    ProductRef,
    new_event,
)
from redress_shared.kafka import EventConsumer
from redress_shared.migrations import upgrade_to_head
from redress_shared.records import to_kafka_record
from redress_shared.runtime import tune_garbage_collector
from redress_testing import TestInfra, running_app, start_test_infra
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from redress_stack.bench.stats import summary

PERIOD = timedelta(days=28)
PROGRESS_EVERY_SECONDS = 60.0
# Complaints received every ``PERIOD``: the density of the one-million history (about four
# years), whatever ``--complaints`` says.
COMPLAINTS_PER_PERIOD = 20_000
SUPPLIERS = [f"Supplier-{n:02d}" for n in range(25)]
SUPPLIER_WEIGHTS = [1 / (rank + 1) for rank in range(len(SUPPLIERS))]  # a few big ones (Zipf)
CATEGORIES = ["product_defect", "delivery", "billing_error", "service", "outage", "other"]
CHANNELS = ["api", "email", "phone", "chat", "social"]
LANGUAGES = ["en", "ro", "lv", "sl", "fa", "de"]
PRIORITIES = ["low", "normal", "normal", "high", "urgent"]
ROOT_CAUSES = ["supplier_component", "manufacturing", "handling", "carrier", None]
VALIDITIES = ["justified", "partly_justified", "unjustified"]
REMEDY_TYPES = ["refund", "replacement", "repair", "discount", "credit", "apology_gesture"]
PHONES = ["+40721", "+37129", "+38640", "+98912", "+49151"]  # RO, LV, SI, IR, DE


def complaint_events(
    index: int, end: datetime, rng: random.Random, at: datetime | None = None
) -> list[tuple[str, object]]:
    """One complaint's events over its lifetime, as (topic, event): received at ``at``, or at a
    random time in the ``PERIOD`` before ``end``."""
    at = at or end - PERIOD * rng.random()
    customer = CustomerContact(
        customer_key=f"customer-{rng.randrange(index // 3 + 1)}",
        phone=rng.choice(PHONES) + f"{rng.randrange(10**7):07d}",
    )
    complaint_id, case_id = uuid.uuid4(), uuid.uuid4()
    reference = f"RDR-BENCH-{index:07d}"
    supplier = rng.choices(SUPPLIERS, weights=SUPPLIER_WEIGHTS)[0]
    events = [
        (
            COMPLAINTS_TOPIC,
            new_event(
                source="/bench",
                type=COMPLAINT_RECEIVED,
                key=customer.customer_key,
                time=at,
                payload=ComplaintReceivedV1(
                    complaint_id=complaint_id,
                    reference=reference,
                    received_at=at,
                    channel=rng.choice(CHANNELS),
                    customer=customer,
                    body="…",
                    language=rng.choice(LANGUAGES),
                    category=rng.choice(CATEGORIES),
                    product=ProductRef(sku=f"SKU-{rng.randrange(200)}"),
                    supplier=supplier,
                ),
            ),
        )
    ]
    if rng.random() > 0.97:
        return events
    opened_at = at + timedelta(seconds=rng.randrange(5, 120))

    def case_event(event_type: str, moment: datetime, payload) -> tuple[str, object]:  # noqa: ANN001
        return CASES_TOPIC, new_event(
            source="/bench", type=event_type, key=str(case_id), time=moment, payload=payload
        )

    events.append(
        case_event(
            CASE_OPENED,
            opened_at,
            CaseOpenedV1(
                case_id=case_id,
                complaint_id=complaint_id,
                reference=reference,
                status="new",
                priority=rng.choice(PRIORITIES),
                channel="api",
                opened_at=opened_at,
                customer=customer,
                supplier=supplier,
                due=CaseDueTimes(
                    acknowledge_by=opened_at + timedelta(hours=4),
                    first_response_by=opened_at + timedelta(days=1),
                    resolve_by=opened_at + timedelta(days=10),
                ),
                sla_policy="standard",
            ),
        )
    )
    moment = opened_at
    for version, (action, before, after) in enumerate(
        [("acknowledge", "new", "acknowledged"), ("resolve", "in_progress", "resolved")], start=2
    ):
        moment += timedelta(hours=rng.uniform(0.2, 60))
        events.append(
            case_event(
                CASE_STATUS_CHANGED,
                moment,
                CaseStatusChangedV1(
                    case_id=case_id,
                    reference=reference,
                    action=action,
                    from_status=before,
                    to_status=after,
                    version=version,
                    actor="agent",
                    occurred_at=moment,
                ),
            )
        )
    if rng.random() < 0.05:
        due = opened_at + timedelta(hours=4)
        events.append(
            case_event(
                CASE_SLA_BREACHED,
                due,
                CaseSlaV1(
                    case_id=case_id,
                    reference=reference,
                    clock="acknowledge",
                    due_at=due,
                    occurred_at=due,
                    priority_before="normal",
                    priority_after="high",
                ),
            )
        )
    if rng.random() < 0.3:
        remedy_at = moment + timedelta(hours=2)
        events.append(
            case_event(
                CASE_REMEDY_CHANGED,
                remedy_at,
                CaseRemedyChangedV1(
                    case_id=case_id,
                    reference=reference,
                    remedy_id=uuid.uuid4(),
                    remedy_type=rng.choice(REMEDY_TYPES),
                    status="completed",
                    amount=f"{rng.uniform(5, 500):.2f}",
                    currency=rng.choice(["EUR", "EUR", "RON", "USD"]),
                    occurred_at=remedy_at,
                ),
            )
        )
    if rng.random() < 0.2:
        surveyed_at = moment + timedelta(days=3)
        coefficient = round(rng.uniform(4, 10), 2)
        events.append(
            case_event(
                CASE_SATISFACTION_RECORDED,
                surveyed_at,
                CaseSatisfactionRecordedV1(
                    case_id=case_id,
                    reference=reference,
                    coefficient=f"{coefficient:.2f}",
                    needs_action=coefficient < 8,
                    would_recommend=rng.random() < 0.8,
                    would_continue=rng.random() < 0.75,
                    occurred_at=surveyed_at,
                ),
            )
        )
    if rng.random() < 0.6:
        for revision in range(2 if rng.random() < 0.1 else 1):
            decided_at = moment + timedelta(hours=revision + 1)
            events.append(
                case_event(
                    CASE_DECISION_RECORDED,
                    decided_at,
                    CaseDecisionRecordedV1(
                        case_id=case_id,
                        reference=reference,
                        complaint_id=complaint_id,
                        validity=rng.choice(VALIDITIES),
                        root_cause=rng.choice(ROOT_CAUSES),
                        decided_by="agent",
                        occurred_at=decided_at,
                    ),
                )
            )
    return events


async def produce_history(bootstrap: str, complaints: int, end: datetime) -> tuple[dict, int]:
    """Publish ``complaints`` complaints' events, oldest first, ``COMPLAINTS_PER_PERIOD`` every
    ``PERIOD`` up to ``end``; the result line and the number of events."""
    rng = random.Random(7)
    span = PERIOD * complaints / COMPLAINTS_PER_PERIOD
    start = end - span
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=20)
    await producer.start()
    sent = 0
    started = time.perf_counter()
    try:
        pending = []
        for index in range(complaints):
            at = start + span * ((index + rng.random()) / complaints)
            for topic, event in complaint_events(index, end, rng, at):
                key, value, headers = to_kafka_record(event)
                pending.append(await producer.send(topic, value=value, key=key, headers=headers))
                sent += 1
            if len(pending) >= 2000:
                await asyncio.gather(*pending)
                pending = []
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return summary(
        "analytics events produced onto Tansu", sent, time.perf_counter() - started, []
    ), sent


async def report_progress(settings: AnalyticsSettings, every: float) -> None:
    """Print how many events the consumer has applied so far, every ``every`` seconds (a long
    ingest is otherwise silent); reads PostgreSQL's statistics, not the table."""
    engine = create_async_engine(settings.database_url)
    started = time.perf_counter()
    try:
        while True:
            await asyncio.sleep(every)
            async with engine.connect() as connection:
                applied = await connection.scalar(
                    text(
                        "SELECT n_tup_ins FROM pg_stat_user_tables "
                        "WHERE schemaname = :schema AND relname = 'inbox'"
                    ),
                    {"schema": tables.SCHEMA},
                )
            seconds = time.perf_counter() - started
            line = {"progress": "analytics ingest", "applied": applied, "seconds": round(seconds)}
            print(json.dumps(line), flush=True)
    finally:
        await engine.dispose()


async def ingest(settings: AnalyticsSettings, expected: int) -> dict:
    """Read every event from offset 0 through the analytics consumer code path."""
    engine = create_async_engine(settings.database_url)
    consumer = EventConsumer(
        group_id=consumers.GROUP_ID,
        topics=consumers.TOPICS,
        handlers=consumers.handlers(settings, SystemClock()),
        batch_handler=consumers.batch_handler(settings, SystemClock()),
        session_factory=create_session_factory(engine),
        tables=tables.platform,
        settings=settings,
    )
    progress = asyncio.create_task(report_progress(settings, PROGRESS_EVERY_SECONDS))
    started = time.perf_counter()
    try:
        read = await consumer.replay()
    finally:
        progress.cancel()
    seconds = time.perf_counter() - started
    await engine.dispose()
    assert read == expected, f"read {read} of {expected} events"
    assert not consumer.replay_failures, consumer.replay_failures[:3]
    return summary(
        "analytics ingest of every event (consumer handlers + inbox, from Tansu)", read, seconds, []
    )


def figure_requests(openapi: dict, end: datetime) -> list[tuple[str, dict]]:
    """Every GET figure endpoint with every combination of its enum parameters."""
    year_ago, month_ago = end - timedelta(days=365), end - timedelta(days=30)
    requests = []
    for path, operations in sorted(openapi["paths"].items()):
        get = operations.get("get")
        if not path.startswith("/v1/analytics/") or get is None or "{" in path:
            continue
        choices: dict[str, list] = {}
        for parameter in get.get("parameters", []):
            schema = parameter.get("schema", {})
            if "$ref" in schema:
                schema = openapi["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
            if parameter["in"] == "query" and "enum" in schema:
                choices[parameter["name"]] = list(schema["enum"])
        names = sorted(choices)
        for combination in itertools.product(*(choices[name] for name in names)):
            params = dict(zip(names, combination, strict=True))
            start = month_ago if params.get("bucket") == "hour" else year_ago
            params.update({"from": start.isoformat(), "to": end.isoformat()})
            requests.append((path, params))
    return requests


async def measure_figures(settings: AnalyticsSettings, end: datetime, repeats: int) -> list[dict]:
    """p50/p99 of each figure request, ``repeats`` times each."""
    results = []
    app = build_app(settings)
    # Only the queries: the consumer would otherwise re-read the whole log meanwhile.
    app.state.runtime.consumers.clear()
    async with running_app(app, settings) as client:
        openapi = (await client.get("/openapi.json")).json()
        for path, params in figure_requests(openapi, end):
            latencies = []
            started = time.perf_counter()
            for _ in range(repeats):
                began = time.perf_counter()
                response = await client.get(path, params=params)
                latencies.append(time.perf_counter() - began)
                response.raise_for_status()
            shown = {k: v for k, v in params.items() if k not in {"from", "to"}}
            label = f"GET {path}" + (f" {json.dumps(shown)}" if shown else "")
            results.append(summary(label, repeats, time.perf_counter() - started, latencies))
    return results


async def migrated_settings(infra: TestInfra) -> AnalyticsSettings:
    """Analytics settings on the benchmark's infrastructure, its schema migrated."""
    settings = AnalyticsSettings(
        database_url=infra.database_url,
        kafka_bootstrap_servers=infra.kafka_bootstrap_servers,
        admin_api_key=infra.admin_key,
        log_level="WARNING",
    )
    await asyncio.to_thread(
        upgrade_to_head, settings.database_url, MIGRATIONS_DIR, settings.db_schema
    )
    return settings


async def run(complaints: int, repeats: int, infra: TestInfra) -> list[dict]:
    """Produce the history, ingest all of it through the consumer, measure the figures."""
    settings = await migrated_settings(infra)
    end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    results = []
    produced, count = await produce_history(infra.kafka_bootstrap_servers, complaints, end)
    results.append(produced)
    print(json.dumps(produced), flush=True)
    results.append(await ingest(settings, count))
    print(json.dumps(results[-1]), flush=True)
    # What autovacuum does to a long-lived table: statistics, and the visibility map that
    # index-only scans rely on.
    await vacuum(settings)
    for line in await measure_figures(settings, end, repeats):
        results.append(line)
        print(json.dumps(line), flush=True)
    return results


async def vacuum(settings: AnalyticsSettings) -> None:
    """VACUUM ANALYZE every fact table."""
    engine = create_async_engine(settings.database_url)
    async with engine.connect() as connection:
        await connection.execution_options(isolation_level="AUTOCOMMIT")
        for table in fact_tables():
            await connection.execute(text(f'VACUUM ANALYZE "{tables.SCHEMA}"."{table.name}"'))
    await engine.dispose()


def main() -> None:
    """Parse the flags and print one JSON line per result."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--complaints",
        type=int,
        default=50_000,
        help="complaints in the history (1000000: the million)",
    )
    parser.add_argument("--requests", type=int, default=20, help="requests per figure")
    args = parser.parse_args()
    tune_garbage_collector()  # as every service process does
    with tempfile.TemporaryDirectory(prefix="redress-bench-analytics-") as root:
        infra, stoppers = start_test_infra(Path(root))
        try:
            asyncio.run(run(args.complaints, args.requests, infra))
        finally:
            for stop in reversed(stoppers):
                stop()


if __name__ == "__main__":
    main()
