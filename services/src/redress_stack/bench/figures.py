"""Benchmark of the analytics figures: ingest rate of a mixed event stream and the latency
of the SLA, outcome, satisfaction, customer, trend and alert endpoints.

Starts a private PostgreSQL and Tansu, runs only the analytics service in-process, publishes
``--cases`` complaints with their case stories (opening, assignment, lifecycle, decision,
remedies, surveys: about eight events a case, over sixty days) straight to the topics, waits
until every fact is counted, then asks each figure endpoint ``--requests`` times. Prints one
JSON line per result (``redress_stack.bench.stats.summary``).

    python -m redress_stack.bench.figures --cases 5000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aiokafka import AIOKafkaProducer
from redress_shared.events import CASES_TOPIC, COMPLAINTS_TOPIC
from redress_shared.records import to_kafka_record
from redress_testing import running_app, service_settings, start_test_infra
from redress_testing.case_stories import CaseStory, complaint_received

from redress_stack.bench.stats import summary

START = datetime(2026, 6, 1, tzinfo=UTC)
DAYS = 60
CATEGORIES = ["product_defect", "delivery", "billing", "outage", "staff_behaviour"]
SUPPLIERS = ["Voltix", "Ampero", "Lumen", None]
PHONES = ["+40721234567", "+38641123456", "+37120000000", None]
TEAMS = ["returns", "billing", "field", "social"]


def stream(cases: int, seed: int = 11) -> list[tuple[str, object]]:
    """(topic, event) pairs for ``cases`` complaints and their cases, in publish order."""
    rng = random.Random(seed)
    events: list[tuple[str, object]] = []
    for _ in range(cases):
        received = START + timedelta(seconds=rng.randrange(DAYS * 86400))
        complaint = complaint_received(
            received,
            customer_key=f"bench-{rng.randrange(cases // 2 + 1)}",
            category=rng.choice(CATEGORIES),
            sku=f"SKU-{rng.randrange(40)}",
            supplier=rng.choice(SUPPLIERS),
            phone=rng.choice(PHONES),
        )
        events.append((COMPLAINTS_TOPIC, complaint))
        story = CaseStory(
            received + timedelta(minutes=1),
            priority=rng.choice(["normal", "normal", "high", "urgent"]),
            team=rng.choice(TEAMS),
            complaint_id=complaint.payload().complaint_id,
        )
        at = story.opened_at
        case_events = [story.opened]
        if rng.random() < 0.2:
            case_events.append(story.assign(rng.choice(TEAMS), at + timedelta(minutes=5)))
        if rng.random() < 0.9:
            at += timedelta(minutes=rng.randrange(5, 600))
            case_events.append(story.act("acknowledge", "acknowledged", at))
            at += timedelta(minutes=rng.randrange(5, 600))
            case_events.append(story.act("start", "investigating", at))
            if rng.random() < 0.6:
                at += timedelta(hours=rng.randrange(1, 72))
                case_events.append(story.decide(rng.choice(["justified", "unjustified"]), at))
                if rng.random() < 0.3:
                    case_events.append(
                        story.remedy(uuid.uuid4(), "refund", "offered", at, "19.90", "EUR")
                    )
                at += timedelta(hours=rng.randrange(1, 72))
                case_events.append(story.act("resolve", "resolved", at))
                at += timedelta(hours=rng.randrange(1, 48))
                case_events.append(story.act("close", "closed", at))
                if rng.random() < 0.4:
                    case_events.append(
                        story.satisfaction(
                            f"{rng.uniform(5, 10):.2f}", at, would_recommend=rng.random() < 0.8
                        )
                    )
        if rng.random() < 0.1:
            case_events.append(story.sla("resolve", breached=False, at=at))
        events += [(CASES_TOPIC, event) for event in case_events]
    return events


async def publish(bootstrap: str, events: list[tuple[str, object]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    await producer.start()
    try:
        pending = []
        for topic, event in events:
            key, value, headers = to_kafka_record(event)  # type: ignore[arg-type]
            pending.append(await producer.send(topic, value=value, key=key, headers=headers))
            if len(pending) >= 1000:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
    finally:
        await producer.stop()


async def run(infra, settings, cases: int, requests: int) -> list[dict]:  # noqa: ANN001
    from analytics_service.bootstrap import build_app

    events = stream(cases)
    window = {"from": START.isoformat(), "to": (START + timedelta(days=DAYS + 5)).isoformat()}
    results = []
    async with running_app(build_app(settings), settings) as client:
        started = time.perf_counter()
        await publish(infra.kafka_bootstrap_servers, events)
        while True:
            outcomes = (await client.get("/v1/analytics/outcomes", params=window)).json()
            trend = (
                await client.get("/v1/analytics/trends", params={**window, "bucket": "month"})
            ).json()
            if outcomes["cases"] >= cases and sum(trend["totals"].values()) >= cases:
                break
            await asyncio.sleep(0.5)
        seconds = time.perf_counter() - started
        results.append(
            summary(f"analytics ingest ({cases} cases, events)", len(events), seconds, [])
        )
        queries = {
            "sla": {},
            "outcomes": {},
            "satisfaction": {"bucket": "week"},
            "customers": {},
            "trends": {"bucket": "day", "group_by": "region"},
            "supplier-defects": {},
            "alerts": None,
        }
        for figure, extra in queries.items():
            params = None if extra is None else {**window, **extra}
            latencies = []
            figure_started = time.perf_counter()
            for _ in range(requests):
                request_started = time.perf_counter()
                (await client.get(f"/v1/analytics/{figure}", params=params)).raise_for_status()
                latencies.append(time.perf_counter() - request_started)
            results.append(
                summary(
                    f"analytics GET /v1/analytics/{figure}",
                    requests,
                    time.perf_counter() - figure_started,
                    latencies,
                )
            )
    return results


def main() -> None:
    """Start private infrastructure, load the stream, measure, print JSON lines."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cases", type=int, default=5000)
    parser.add_argument("--requests", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="redress-bench-figures-") as root:
        infra, stoppers = start_test_infra(Path(root))
        try:
            # The analytics service is imported here: the stack runner does not depend on it.
            from analytics_service import MIGRATIONS_DIR
            from analytics_service.config import AnalyticsSettings

            settings = service_settings(infra, AnalyticsSettings, MIGRATIONS_DIR)
            for result in asyncio.run(run(infra, settings, args.cases, args.requests)):
                print(json.dumps(result))
        finally:
            for stop in reversed(stoppers):
                stop()


if __name__ == "__main__":
    main()
