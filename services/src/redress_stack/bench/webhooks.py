"""Webhook benchmark: deliveries per second and delivery lag against a local receiver.

Starts a private stack (free ports, a temporary data folder, real PostgreSQL and Tansu, every
service as its own process; loopback receivers allowed), subscribes N webhooks (one path of a
real HTTP receiver on loopback each) to ``redress.case.status_changed.v1``, publishes M such
events onto ``redress.cases.v1``, and waits until every (subscription, event) pair has been
answered 200. Two runs, one JSON line each (see ``redress_stack.bench.stats``):

* burst: all M events at once; the throughput (N x M deliveries over the time from the first
  event to the last receipt) is what the service sustains, and the lag mostly the backlog;
* paced: events at ``--rate`` per second (below capacity), so the lag is that of one delivery.

Lag: for each delivery, from its event time (set when the event is put on the topic) to the
moment the receiver got the request; p50 and p99. Figures depend on the machine and on what
else runs on it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx
from aiokafka import AIOKafkaProducer
from redress_shared.events import (
    CASE_STATUS_CHANGED,
    CASES_TOPIC,
    CaseStatusChangedV1,
    EventEnvelope,
    new_event,
)
from redress_shared.records import to_kafka_record
from redress_testing.webhook_receiver import WebhookReceiver

from redress_stack.bench.stats import summary
from redress_stack.runner import Stack, StackPorts


def status_changed(index: int) -> EventEnvelope:
    """One case event, timed now."""
    case_id = uuid.uuid4()
    now = datetime.now(UTC)
    payload = CaseStatusChangedV1(
        case_id=case_id,
        reference=f"RDR-2026-{index:06d}",
        action="start",
        from_status="acknowledged",
        to_status="investigating",
        version=3,
        actor="bench",
        occurred_at=now,
    )
    return new_event(
        source="/redress/bench",
        type=CASE_STATUS_CHANGED,
        key=str(case_id),
        subject=str(case_id),
        payload=payload,
        time=now,
    )


async def publish(bootstrap: str, count: int, rate: float | None = None) -> dict[str, float]:
    """Put ``count`` events on the cases topic, as fast as the producer goes or ``rate`` per
    second; event id -> event time (Unix seconds)."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    times: dict[str, float] = {}
    started = time.monotonic()
    try:
        sends = []
        for index in range(count):
            if rate:
                await asyncio.sleep(max(0.0, started + index / rate - time.monotonic()))
            event = status_changed(index)
            key, value, headers = to_kafka_record(event)
            sends.append(await producer.send(CASES_TOPIC, value=value, key=key, headers=headers))
            times[str(event.id)] = event.time.timestamp()
        await asyncio.gather(*sends)
    finally:
        await producer.stop()
    return times


async def bench_deliveries(
    stack: Stack, subscriptions: int, events: int, timeout: float, rate: float | None = None
) -> dict:
    """Subscribe, publish, wait for every delivery, unsubscribe; the summary of throughput
    and lag."""
    receiver = WebhookReceiver()
    await receiver.start()
    base = stack.url("notification-service")
    client = httpx.AsyncClient(headers={"Authorization": f"Bearer {stack.admin_key}"}, timeout=60)
    webhook_ids: list[str] = []
    try:
        for index in range(subscriptions):
            created = await client.post(
                f"{base}/v1/webhooks",
                json={
                    "url": receiver.url(f"/hooks/{index}"),
                    "event_types": [CASE_STATUS_CHANGED],
                    "description": f"bench {index}",
                },
            )
            created.raise_for_status()
            webhook_ids.append(created.json()["id"])
        expected = subscriptions * events
        event_times = await publish(stack.kafka_bootstrap, events, rate)
        deadline = time.monotonic() + timeout
        # The first success of each message counts; a repeat would not be a new delivery.
        first_success: dict[str, float] = {}
        looked_at = 0  # requests are appended in order: look at each once (the receiver
        # shares this process, and rescanning every request at each arrival slowed it down)
        while True:
            arrived = receiver.requests
            for request in arrived[looked_at:]:
                if request.answered == 200:
                    first_success.setdefault(request.headers["webhook-id"], request.received_at)
            looked_at = len(arrived)
            if len(first_success) >= expected:
                break
            if time.monotonic() > deadline:
                raise SystemExit(
                    f"only {len(first_success)} of {expected} deliveries within {timeout:g} s"
                )
            await receiver.wait_for_more(1.0)
        lags: list[float] = []
        for request in receiver.requests:
            message_id = request.headers["webhook-id"]
            if request.answered == 200 and first_success.get(message_id) == request.received_at:
                lags.append(request.received_at - event_times[json.loads(request.body)["id"]])
        seconds = max(first_success.values()) - min(event_times.values())
        pace = f"{rate:g} events/s" if rate else "one burst"
        return summary(
            f"webhooks: {subscriptions} subscriptions x {events} events ({pace}), "
            "event time -> received",
            len(lags),
            seconds,
            lags,
        )
    finally:
        for webhook_id in webhook_ids:
            await client.delete(f"{base}/v1/webhooks/{webhook_id}")
        await client.aclose()
        await receiver.stop()


async def run_benchmarks(stack: Stack, args: argparse.Namespace) -> list[dict]:
    """The burst run, then the paced run."""
    burst = await bench_deliveries(stack, args.subscriptions, args.events, args.timeout)
    paced = await bench_deliveries(
        stack, args.subscriptions, args.paced_events, args.timeout, rate=args.rate
    )
    return [burst, paced]


def main() -> None:
    """Start a private stack, run the webhook benchmarks, print one JSON line per result."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--subscriptions", type=int, default=10)
    parser.add_argument("--events", type=int, default=200, help="events of the burst run")
    parser.add_argument("--paced-events", type=int, default=100, help="events of the paced run")
    parser.add_argument("--rate", type=float, default=5.0, help="events per second when paced")
    parser.add_argument(
        "--dispatch-concurrency",
        type=int,
        default=None,
        help="REDRESS_WEBHOOK_DISPATCH_CONCURRENCY for the run (service default if left out)",
    )
    parser.add_argument("--timeout", type=float, default=600.0)
    args = parser.parse_args()
    # Every service process inherits the environment; only the notification service reads
    # these. The receiver is on loopback, which production refuses.
    os.environ["REDRESS_WEBHOOK_ALLOW_PRIVATE_NETWORKS"] = "true"
    if args.dispatch_concurrency is not None:
        os.environ["REDRESS_WEBHOOK_DISPATCH_CONCURRENCY"] = str(args.dispatch_concurrency)
    with tempfile.TemporaryDirectory(prefix="redress-bench-webhooks-") as data_dir:
        stack = Stack(data_dir=Path(data_dir), ports=StackPorts.free())
        try:
            stack.start()
            results = asyncio.run(run_benchmarks(stack, args))
        finally:
            stack.stop()
    for result in results:
        print(json.dumps(result))


if __name__ == "__main__":
    main()
