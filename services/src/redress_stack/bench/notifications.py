"""Customer-message benchmark: how fast case events become e-mails on an SMTP server.

Starts private infrastructure (embedded PostgreSQL and Tansu, free ports, a temporary
folder), runs the notification service in this process against a loopback SMTP sink, then
publishes ``case.opened`` events (plus a response for each case) and measures, per message,
the lag from the event being published to the e-mail arriving at the SMTP server (template
lookup and rendering, inbox and outbox, dispatch, SMTP): first for a burst (throughput; the
lag then includes the queue), then for a paced trickle (lag without a backlog).

    python -m redress_stack.bench.notifications [--cases 300]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from redress_shared.events import (
    CASE_OPENED,
    CASE_RESPONSE_ADDED,
    CASES_TOPIC,
    CaseDueTimes,
    CaseOpenedV1,
    CaseResponseAddedV1,
    CustomerContact,
    new_event,
    to_kafka_record,
)
from redress_testing import eventually, running_app, service_settings, start_test_infra
from redress_testing.smtp import RecordingSmtpServer, recording_smtp_server

from redress_stack.bench.stats import summary


def _case_events(index: int) -> list:
    case_id = uuid.uuid4()
    reference = f"RDR-BENCH-{index:06d}"
    now = datetime.now(UTC)
    opened = CaseOpenedV1(
        case_id=case_id,
        complaint_id=uuid.uuid4(),
        reference=reference,
        status="new",
        priority="normal",
        channel="api",
        opened_at=now,
        subject="Benchmark",
        language=["ro", "en", "fa", "lv", "sl"][index % 5],
        customer=CustomerContact(
            customer_key=f"bench-{index}", name=f"Customer {index}", email=f"c{index}@example.com"
        ),
        due=CaseDueTimes(
            acknowledge_by=now + timedelta(hours=4),
            first_response_by=now + timedelta(days=1),
            resolve_by=now + timedelta(days=10),
        ),
        sla_policy="normal-default",
    )
    response = CaseResponseAddedV1(
        case_id=case_id,
        reference=reference,
        response_id=uuid.uuid4(),
        message="Vă trimitem azi un încărcător nou.",
        author="agent",
        occurred_at=now,
    )
    return [
        new_event(source="/bench", type=CASE_OPENED, key=str(case_id), payload=opened, time=now),
        new_event(
            source="/bench", type=CASE_RESPONSE_ADDED, key=str(case_id), payload=response, time=now
        ),
    ]


async def _publish_and_time(
    producer, recorder: RecordingSmtpServer, app, first: int, cases: int, pause: float
) -> tuple[list[float], float]:  # noqa: ANN001
    """Publish cases ``first``.. (``pause`` seconds apart), wait for their e-mails; return
    each message's lag and the batch's duration."""
    published: dict[str, float] = {}  # case id -> when its events were published
    already = len(recorder.arrived)
    started = time.perf_counter()
    for index in range(first, first + cases):
        events = _case_events(index)
        for event in events:
            key, value, headers = to_kafka_record(event)
            await producer.send(CASES_TOPIC, value=value, key=key, headers=headers)
        await producer.flush()
        published[events[0].data["case_id"]] = time.perf_counter()
        if pause:
            await asyncio.sleep(pause)

    async def all_arrived() -> bool:
        return len(recorder.arrived) >= already + cases * 2

    await eventually(all_arrived, timeout=600, interval=0.05)
    finished = max(recorder.arrived.values())
    lags = [
        recorder.arrived[message_id] - published[case_id]
        for case_id, message_id in await _message_ids(app)
        if message_id in recorder.arrived and case_id in published
    ]
    return lags, finished - started


async def run(settings, recorder: RecordingSmtpServer, cases: int) -> list[dict]:  # noqa: ANN001
    """A burst of ``cases`` cases (throughput), then a paced trickle (lag without a backlog)."""
    from aiokafka import AIOKafkaProducer
    from notification_service.bootstrap import build_app

    app = build_app(settings)
    dispatchers = settings.dispatch_concurrency
    results = []
    async with running_app(app, settings) as client:

        async def ready() -> bool:  # consumers joined: the lag measured is not start-up
            return (await client.get("/readyz")).json().get("status") == "ready"

        await eventually(ready, timeout=120)
        producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers, acks="all")
        await producer.start()
        try:
            lags, seconds = await _publish_and_time(producer, recorder, app, 0, cases, 0)
            results.append(
                summary(
                    f"burst: case events -> e-mails on SMTP ({cases} cases x 2 messages, "
                    f"{dispatchers} dispatchers)",
                    len(lags),
                    seconds,
                    lags,
                )
            )
            paced = max(10, cases // 10)
            lags, seconds = await _publish_and_time(producer, recorder, app, cases, paced, 0.2)
            results.append(
                summary(
                    f"paced (5 cases/s): case event -> e-mail lag ({paced} cases x 2 messages)",
                    len(lags),
                    seconds,
                    lags,
                )
            )
        finally:
            await producer.stop()
    return results


async def _message_ids(app) -> list[tuple[str, str]]:  # noqa: ANN001
    from notification_service import tables
    from sqlalchemy import select

    runtime = app.state.runtime
    async with runtime.session_factory() as session:
        rows = await session.execute(
            select(tables.notifications.c.case_id, tables.notifications.c.message_id)
        )
        return [(str(case_id), message_id) for case_id, message_id in rows]


def main() -> None:
    """Run the benchmark and print one JSON line per result."""
    from notification_service import MIGRATIONS_DIR
    from notification_service.config import NotificationSettings

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="redress-bench-notifications-") as folder:
        infra, stoppers = start_test_infra(Path(folder))
        try:
            with recording_smtp_server() as (recorder, smtp_port):
                settings = service_settings(
                    infra,
                    NotificationSettings,
                    MIGRATIONS_DIR,
                    smtp_port=smtp_port,
                    dispatch_interval_seconds=0.02,
                    dispatch_concurrency=args.concurrency,
                    status_quiet_window=timedelta(0),
                )
                for result in asyncio.run(run(settings, recorder, args.cases)):
                    print(json.dumps(result, ensure_ascii=False))
        finally:
            for stop in reversed(stoppers):
                stop()


if __name__ == "__main__":
    main()
