"""SLA breach detection lag: how soon after a deadline passes its breach is recorded and
published, with many cases falling due at once.

Starts a private stack with a test clock (free ports, a temporary data folder, real
PostgreSQL and Tansu), opens ``--cases`` cases through intake, then moves the stack's time
25 hours forward so every case's acknowledgement deadline (24 h) passes at the same moment,
and measures:

* recorded: from the moment time moved to each breach's ``occurred_at`` (the timer's clock);
* published: until every breach event has been read back from ``redress.cases.v1``.

``python -m redress_stack.bench.sla [--cases 500] [--replicas 1]``; one JSON line per result.
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

import httpx
from redress_shared.events import CASE_SLA_BREACHED, CASES_TOPIC
from redress_testing import StackClock, recorded_topic

from redress_stack.bench.stats import summary
from redress_stack.runner import Stack, StackPorts


async def open_cases(client: httpx.AsyncClient, stack: Stack, count: int) -> set[str]:
    """Post ``count`` complaints and wait until each has its case; return the case ids."""
    intake, cases = stack.url("intake-service"), stack.url("case-service")
    semaphore = asyncio.Semaphore(16)

    async def post(index: int) -> str:
        async with semaphore:
            response = await client.post(
                f"{intake}/v1/complaints",
                json={
                    "customer": {"email": f"sla{index}.{uuid.uuid4().hex[:6]}@example.com"},
                    "body": "Benchmark: the charger stopped working.",
                },
            )
            response.raise_for_status()
            return response.json()["complaint_id"]

    complaint_ids = set(await asyncio.gather(*(post(i) for i in range(count))))
    while True:
        found, cursor = [], None
        while True:
            params = {"limit": 200, **({"cursor": cursor} if cursor else {})}
            page = (await client.get(f"{cases}/v1/cases", params=params)).json()
            found += page["items"]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        opened = {c["id"] for c in found if c["complaint_id"] in complaint_ids}
        if len(opened) == count:
            return opened
        await asyncio.sleep(0.2)


async def measure(stack: Stack, clock: StackClock, count: int) -> list[dict]:
    """Open the cases, move time past their deadline, time the breaches."""
    headers = {"Authorization": f"Bearer {stack.admin_key}"}
    async with (
        httpx.AsyncClient(headers=headers, timeout=60) as client,
        recorded_topic(stack.kafka_bootstrap, CASES_TOPIC) as topic,
    ):
        case_ids = await open_cases(client, stack, count)
        await asyncio.sleep(2)  # let the timers settle on the opened cases before the jump
        moved_at = datetime.now(UTC)
        started = time.perf_counter()
        clock.advance(timedelta(hours=25))
        while True:
            breaches = {
                e.key: e
                for e in topic
                if e.type == CASE_SLA_BREACHED and e.data["clock"] == "acknowledge"
            }
            if case_ids <= set(breaches):
                break
            await asyncio.sleep(0.05)
        published = time.perf_counter() - started
    lags = [
        (
            datetime.fromisoformat(breaches[case_id].data["occurred_at"]) - clock.offset - moved_at
        ).total_seconds()
        for case_id in case_ids
    ]
    recorded = max(lags)
    return [
        summary(
            f"sla: breach recorded after the deadline ({count} due at once)", count, recorded, lags
        ),
        summary(f"sla: all {count} breaches published", count, published, []),
    ]


def main() -> None:
    """Start a private stack with a test clock, measure, print one JSON line per result."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cases", type=int, default=500)
    parser.add_argument("--replicas", type=int, default=1, help="case-service processes")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="redress-bench-sla-") as data_dir:
        clock = StackClock(Path(data_dir) / "test-clock")
        stack = Stack(
            data_dir=Path(data_dir),
            ports=StackPorts.free(),
            replicas={"case-service": args.replicas},
            test_clock_file=clock.path,
        )
        try:
            stack.start()
            results = asyncio.run(measure(stack, clock, args.cases))
        finally:
            stack.stop()
    for result in results:
        print(json.dumps(result))


if __name__ == "__main__":
    main()
