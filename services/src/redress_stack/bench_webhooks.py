"""Webhook benchmark: deliveries per second and delivery lag against a local receiver.

Starts a private stack (free ports, a temporary data folder, real PostgreSQL and Tansu, every
service as its own process; loopback receivers allowed), subscribes N webhooks (one path of a
real HTTP receiver on loopback each) to ``redress.case.status_changed.v1``, publishes M such
events onto ``redress.cases.v1`` in one burst, and waits until every (subscription, event)
pair has been answered 200. Prints one JSON line per result (see ``redress_stack.bench``):

* throughput: N x M deliveries over the time from the first event to the last receipt;
* lag: for each delivery, its event time (set when the event is put on the topic) to the
  moment the receiver got the request, p50 and p99.

Figures depend on the machine and on what else runs on it.
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
    new_event,
    to_kafka_record,
)

from redress_stack.bench import summary
from redress_stack.runner import Stack, StackPorts
from redress_stack.webhook_receiver import WebhookReceiver


def status_changed(index: int):
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


async def publish_burst(bootstrap: str, count: int) -> dict[str, float]:
    """Put ``count`` events on the cases topic as fast as the producer goes; event id ->
    event time (Unix seconds)."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    times: dict[str, float] = {}
    try:
        sends = []
        for index in range(count):
            event = status_changed(index)
            key, value, headers = to_kafka_record(event)
            sends.append(await producer.send(CASES_TOPIC, value=value, key=key, headers=headers))
            times[str(event.id)] = event.time.timestamp()
        await asyncio.gather(*sends)
    finally:
        await producer.stop()
    return times


async def bench_deliveries(stack: Stack, subscriptions: int, events: int, timeout: float) -> dict:
    """Subscribe, publish, wait for every delivery; the summary of throughput and lag."""
    receiver = WebhookReceiver()
    await receiver.start()
    headers = {"Authorization": f"Bearer {stack.admin_key}"}
    base = stack.url("notification-service")
    try:
        async with httpx.AsyncClient(headers=headers, timeout=60) as client:
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
        expected = subscriptions * events
        event_times = await publish_burst(stack.kafka_bootstrap, events)
        deadline = time.monotonic() + timeout
        while True:
            first_success: dict[str, float] = {}
            for request in receiver.requests:
                if request.answered == 200:
                    message_id = request.headers["webhook-id"]
                    first_success.setdefault(message_id, request.received_at)
            if len(first_success) >= expected:
                break
            if time.monotonic() > deadline:
                raise SystemExit(
                    f"only {len(first_success)} of {expected} deliveries within {timeout:g} s"
                )
            await receiver.wait_for_more(1.0)
        lags = []
        last_receipt = 0.0
        for request in receiver.requests:
            message_id = request.headers["webhook-id"]
            if request.answered == 200 and first_success.get(message_id) == request.received_at:
                event_time = event_times[json.loads(request.body)["id"]]
                lags.append(request.received_at - event_time)
                last_receipt = max(last_receipt, request.received_at)
        seconds = last_receipt - min(event_times.values())
        return summary(
            f"webhooks: {subscriptions} subscriptions x {events} events, event time -> received",
            len(lags),
            seconds,
            lags,
        )
    finally:
        await receiver.stop()


def main() -> None:
    """Start a private stack, run the webhook benchmark, print one JSON line per result."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--subscriptions", type=int, default=10)
    parser.add_argument("--events", type=int, default=200)
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
            result = asyncio.run(
                bench_deliveries(stack, args.subscriptions, args.events, args.timeout)
            )
        finally:
            stack.stop()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
