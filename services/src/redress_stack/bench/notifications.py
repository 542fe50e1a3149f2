"""Customer-message benchmark: how fast case events become e-mails on an SMTP server.

Starts private infrastructure (embedded PostgreSQL and Tansu, free ports, a temporary
folder), runs the notification service in this process against a loopback SMTP sink (a
process of its own, as a mail relay would be: an SMTP server in a thread of this process
would compete with the service for the interpreter lock and measure that instead), then
publishes ``case.opened`` events (plus a response for each case) and measures, per message,
the lag from the event being published to the e-mail arriving at the SMTP server (template
lookup and rendering, inbox and outbox, dispatch, SMTP): first for a burst (throughput; the
lag then includes the queue), then for a paced trickle (lag without a backlog). Last, the
dispatch alone: ``--queued`` messages put straight into the queue (rows, as the consumer
leaves them) and timed until every one is on the SMTP server (claim, send over the pooled
connections, record the outcome and its event).

    python -m redress_stack.bench.notifications [--cases 300] [--paced N] [--queued 3000]
        [--concurrency N] [--smtp-pool N]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import logging
import os
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psutil
from redress_shared.events import (
    CASE_OPENED,
    CASE_RESPONSE_ADDED,
    CASES_TOPIC,
    CaseDueTimes,
    CaseOpenedV1,
    CaseResponseAddedV1,
    CustomerContact,
    new_event,
)
from redress_shared.observability import configure_logging
from redress_shared.records import to_kafka_record
from redress_shared.runtime import tune_garbage_collector
from redress_testing import eventually, running_app, service_settings, start_test_infra

from redress_stack.bench import load
from redress_stack.bench.stats import summary
from redress_stack.infra import MailSink, free_port


class SmtpSink:
    """The stack's own local mail sink (:mod:`redress_stack.mail_sink`, a process of its own,
    as a mail relay would be), as the benchmark sees it: what arrived, read from its Maildir
    (each message's Message-ID and when its file was filed), and the CPU the sink used.

    Counting the files is all the polling does (four times a second: the times measured are
    the files', not the poll's); each file is read once, at the end of a phase, so the
    benchmark takes little from the cores it measures."""

    def __init__(self, maildir: Path, pid: int) -> None:
        self._new = maildir / "new"
        self._process = psutil.Process(pid)
        self._read: dict[str, tuple[str, float]] = {}  # file name -> (Message-ID, filed at)

    def count(self) -> int:
        """How many messages arrived so far."""
        return len(os.listdir(self._new))

    @property
    def arrived(self) -> dict[str, float]:
        """Message-ID -> arrival time (``time.time()``) of what arrived so far."""
        for name in os.listdir(self._new):
            if name not in self._read:
                path = self._new / name
                with path.open("rb") as file:
                    head = file.read(4096)
                self._read[name] = (_message_id(head), path.stat().st_mtime)
        return dict(self._read.values())

    def cpu_seconds(self) -> float:
        """CPU seconds the sink's process has used so far."""
        times = self._process.cpu_times()
        return times.user + times.system


def _message_id(head: bytes) -> str:
    for line in head.split(b"\r\n"):
        if not line:
            break
        if line.lower().startswith(b"message-id:"):
            return line.split(b":", 1)[1].strip().decode()
    return ""


@contextmanager
def smtp_sink(folder: Path) -> Iterator[tuple[SmtpSink, int]]:
    """Serve the local mail sink from a process of its own on a free loopback port."""
    port = free_port()
    sink = MailSink(port, folder / "mail", folder / "logs")
    sink.start()
    try:
        assert sink.process is not None and sink.process.process is not None
        yield SmtpSink(sink.maildir, sink.process.process.pid), port
    finally:
        sink.stop()


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
    producer, recorder: SmtpSink, app, first: int, cases: int, pause: float
) -> tuple[list[float], float]:  # noqa: ANN001
    """Publish cases ``first``.. (``pause`` seconds apart), wait for their e-mails; return
    each message's lag and the batch's duration."""
    published: dict[str, float] = {}  # case id -> when its events were published
    already = recorder.count()
    started = time.time()
    for index in range(first, first + cases):
        events = _case_events(index)
        for event in events:
            key, value, headers = to_kafka_record(event)
            await producer.send(CASES_TOPIC, value=value, key=key, headers=headers)
        if pause:
            await producer.flush()
        # A burst is put on the topic at once (one flush at the end, not one broker round
        # trip per case, which made the publisher the bottleneck); its lag counts from the
        # moment each case was handed to the producer.
        published[events[0].data["case_id"]] = time.time()
        if pause:
            await asyncio.sleep(pause)
    await producer.flush()

    async def all_arrived() -> bool:
        return recorder.count() >= already + cases * 2

    await eventually(all_arrived, timeout=600, interval=0.25)
    arrived = recorder.arrived
    finished = max(arrived.values())
    lags = [
        arrived[message_id] - published[case_id]
        for case_id, message_id in await _message_ids(app)
        if message_id in arrived and case_id in published
    ]
    return lags, finished - started


async def _dispatch_only(app, recorder: SmtpSink, count: int) -> dict:  # noqa: ANN001
    """Queue ``count`` messages at once (one multi-row insert, as planned messages) and time
    them until every one has arrived at the SMTP server."""
    from notification_service import tables

    runtime = app.state.runtime
    now = datetime.now(UTC)
    rows = []
    for index in range(count):
        notification_id = uuid.uuid4()
        rows.append(
            {
                "id": notification_id,
                "case_id": uuid.uuid4(),
                "reference": f"RDR-QUEUE-{index:06d}",
                "trigger_event_id": uuid.uuid4(),
                "template": "response",
                "template_version": 1,
                "language": "en",
                "channel": "email",
                "recipient": f"q{index}@example.com",
                "fallback_channels": [],
                "subject": f"About your complaint [RDR-QUEUE-{index:06d}]",
                "body_text": "Dear customer,\n\nWe are sending you a new charger today.\n",
                "body_html": "<!DOCTYPE html><html><body><p>Dear customer,</p></body></html>",
                "message_id": f"<{notification_id}@bench.example>",
                "status": "pending",
                "next_attempt_at": now,
                "created_at": now,
            }
        )
    wanted = {row["message_id"] for row in rows}
    already = recorder.count()
    async with runtime.session_factory() as session, session.begin():
        for start in range(0, count, 1000):
            await session.execute(tables.notifications.insert(), rows[start : start + 1000])
    app.state.message_doorbell.ring()  # queued behind the service's back: wake its dispatcher
    started = time.time()

    async def all_arrived() -> bool:
        return recorder.count() >= already + count

    await eventually(all_arrived, timeout=600, interval=0.25)
    arrived = recorder.arrived
    lags = [arrived[message_id] - started for message_id in wanted]
    return summary(
        f"dispatch only: queued messages -> e-mails on SMTP ({count} messages, "
        f"{runtime.settings.dispatch_concurrency} in flight, "
        f"{getattr(runtime.settings, 'smtp_pool_size', 1)} SMTP connections)",
        count,
        max(lags),
        lags,
    )


@contextmanager
def _cpu_per_message(result: dict, recorder: SmtpSink) -> Iterator[None]:
    """Add to ``result`` what this process (the service, and the benchmark's publishing and
    polling) and the SMTP sink spent in CPU per message while the block ran: the cost of a
    message, which the shared cores' contention distorts far less than its rate."""
    service, sink = load.own_cpu_seconds(), recorder.cpu_seconds()
    yield
    count = max(result.get("count") or 0, 1)
    result["service_cpu_ms_per_message"] = round(
        (load.own_cpu_seconds() - service) * 1000 / count, 3
    )
    result["sink_cpu_ms_per_message"] = round((recorder.cpu_seconds() - sink) * 1000 / count, 3)


async def run(  # noqa: ANN001
    settings, recorder: SmtpSink, cases: int, queued: int, paced: int | None = None
) -> list[dict]:
    """A burst of ``cases`` cases (throughput), then a paced trickle of ``paced`` cases (lag
    without a backlog; a tenth of the burst, at least 10, when None; none when 0), then
    ``queued`` messages straight from the queue (the dispatch alone)."""
    from aiokafka import AIOKafkaProducer
    from notification_service.bootstrap import build_app

    app = build_app(settings)
    tune_garbage_collector()  # as every service process does
    dispatchers = settings.dispatch_concurrency
    results = []
    async with running_app(app, settings) as client:

        async def ready() -> bool:  # consumers joined: the lag measured is not start-up
            return (await client.get("/readyz")).json().get("status") == "ready"

        await eventually(ready, timeout=120)
        producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers, acks="all")
        await producer.start()
        try:
            costs: dict = {"count": cases * 2}
            with _cpu_per_message(costs, recorder):
                lags, seconds = await _publish_and_time(producer, recorder, app, 0, cases, 0)
            results.append(
                summary(
                    f"burst: case events -> e-mails on SMTP ({cases} cases x 2 messages, "
                    f"{dispatchers} sends in flight)",
                    len(lags),
                    seconds,
                    lags,
                )
                | {key: value for key, value in costs.items() if key != "count"}
            )
            paced = max(10, cases // 10) if paced is None else paced
            if paced:
                lags, seconds = await _publish_and_time(producer, recorder, app, cases, paced, 0.2)
                results.append(
                    summary(
                        f"paced (5 cases/s): case event -> e-mail lag ({paced} cases x 2 messages)",
                        len(lags),
                        seconds,
                        lags,
                    )
                )
            if queued:
                costs = {"count": queued}
                with _cpu_per_message(costs, recorder):
                    dispatched = await _dispatch_only(app, recorder, queued)
                costs.pop("count")
                results.append(dispatched | costs)
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
    parser.add_argument(
        "--paced", type=int, default=None, help="cases of the paced run (a tenth of --cases)"
    )
    parser.add_argument("--queued", type=int, default=3000, help="messages of the dispatch run")
    parser.add_argument(
        "--concurrency",
        type=int,
        default=None,
        help="sends in flight (service default if left out)",
    )
    parser.add_argument(
        "--smtp-pool", type=int, default=None, help="SMTP connections (service default if left out)"
    )
    parser.add_argument(
        "--profile", default=None, help="write a cProfile of this process (the service) here"
    )
    args = parser.parse_args()
    tuning = {"dispatch_concurrency": args.concurrency, "smtp_pool_size": args.smtp_pool}
    with tempfile.TemporaryDirectory(prefix="redress-bench-notifications-") as folder:
        infra, stoppers = start_test_infra(Path(folder))
        # Log as the service does (JSON at INFO), into a file rather than over the results.
        configure_logging("notification-service", "INFO")
        log_file = open(Path(folder) / "notification-service.log", "w")  # noqa: SIM115
        logging.getLogger().handlers[0].setStream(log_file)
        try:
            with smtp_sink(Path(folder)) as (recorder, smtp_port):
                settings = service_settings(
                    infra,
                    NotificationSettings,
                    MIGRATIONS_DIR,
                    smtp_port=smtp_port,
                    status_quiet_window=timedelta(0),
                    **{name: value for name, value in tuning.items() if value is not None},
                )
                profile = cProfile.Profile() if args.profile else None
                if profile is not None:
                    profile.enable()
                results = asyncio.run(run(settings, recorder, args.cases, args.queued, args.paced))
                if profile is not None:
                    profile.disable()
                    profile.dump_stats(args.profile)
                for result in results:
                    print(json.dumps(result, ensure_ascii=False))
        finally:
            for stop in reversed(stoppers):
                stop()
            log_file.close()


if __name__ == "__main__":
    main()
