"""``make bench``: throughput and p50/p99 latency of the running platform.

Starts a private stack (free ports, a temporary data folder, real PostgreSQL and Tansu), then
measures:

* intake: ``POST /v1/complaints`` throughput and latency at a fixed concurrency;
* pipeline: how long the whole batch takes to become cases and sent acknowledgements;
* end-to-end latency: from a complaint's 202 to its case being readable (polled every 10 ms);
* analytics: ``GET /v1/analytics/trends`` latency.

Figures depend on the machine; the README quotes a run on the reference machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
import uuid
from pathlib import Path

import httpx

from redress_stack.bench.stats import summary
from redress_stack.runner import Stack, StackPorts


def complaint(index: int) -> dict:
    return {
        "customer": {"email": f"bench{index}.{uuid.uuid4().hex[:6]}@example.com", "language": "ro"},
        "subject": "Benchmark",
        "body": "Încărcătorul nu mai funcționează după două zile.",
        "category": ["product_defect", "delivery", "billing_error"][index % 3],
        "product": {"sku": "CH-20"},
        "supplier": "Voltix",
    }


async def bench_intake(
    client: httpx.AsyncClient, url: str, total: int, concurrency: int
) -> tuple[dict, list[str]]:
    latencies: list[float] = []
    ids: list[str] = []
    queue: asyncio.Queue[int] = asyncio.Queue()
    for index in range(total):
        queue.put_nowait(index)

    async def worker() -> None:
        while not queue.empty():
            index = queue.get_nowait()
            started = time.perf_counter()
            response = await client.post(f"{url}/v1/complaints", json=complaint(index))
            latencies.append(time.perf_counter() - started)
            response.raise_for_status()
            ids.append(response.json()["complaint_id"])

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return summary(
        f"intake POST /v1/complaints (concurrency {concurrency})",
        total,
        time.perf_counter() - started,
        latencies,
    ), ids


async def wait_for_pipeline(
    client: httpx.AsyncClient, stack: Stack, expected: int, started: float
) -> dict:
    notifications = stack.url("notification-service") + "/v1/notifications"
    while True:
        listed = (await client.get(notifications, params={"limit": 500})).json()
        sent = [n for n in listed if n["status"] == "sent"]
        if len(sent) >= min(expected, 500):
            break
        await asyncio.sleep(0.05)
    seconds = time.perf_counter() - started
    return summary("pipeline: complaint → case → acknowledgement sent", expected, seconds, [])


async def bench_end_to_end(client: httpx.AsyncClient, stack: Stack, count: int) -> dict:
    intake, cases = stack.url("intake-service"), stack.url("case-service")
    latencies: list[float] = []
    for index in range(count):
        response = await client.post(f"{intake}/v1/complaints", json=complaint(100_000 + index))
        accepted_at = time.perf_counter()
        complaint_id = response.json()["complaint_id"]
        while True:
            page = (
                await client.get(f"{cases}/v1/cases", params={"complaint_id": complaint_id})
            ).json()
            if page["items"]:
                latencies.append(time.perf_counter() - accepted_at)
                break
            await asyncio.sleep(0.01)
    return summary("end-to-end: 202 → case readable", count, sum(latencies), latencies)


async def bench_trends(client: httpx.AsyncClient, stack: Stack, count: int) -> dict:
    url = stack.url("analytics-service") + "/v1/analytics/trends"
    latencies: list[float] = []
    started = time.perf_counter()
    for index in range(count):
        params = {
            "bucket": ["hour", "day"][index % 2],
            "group_by": ["category", "supplier", "priority"][index % 3],
        }
        request_started = time.perf_counter()
        (await client.get(url, params=params)).raise_for_status()
        latencies.append(time.perf_counter() - request_started)
    return summary(
        "analytics GET /v1/analytics/trends", count, time.perf_counter() - started, latencies
    )


async def run_benchmarks(stack: Stack, total: int, concurrency: int) -> list[dict]:
    headers = {"Authorization": f"Bearer {stack.admin_key}"}
    async with httpx.AsyncClient(
        headers=headers, timeout=60, limits=httpx.Limits(max_connections=concurrency)
    ) as client:
        started = time.perf_counter()
        intake_result, _ids = await bench_intake(
            client, stack.url("intake-service"), total, concurrency
        )
        pipeline = await wait_for_pipeline(client, stack, total, started)
        end_to_end = await bench_end_to_end(client, stack, 100)
        trends = await bench_trends(client, stack, 300)
    return [intake_result, pipeline, end_to_end, trends]


def main() -> None:
    """Start a private stack, run every benchmark, print a table and save JSON."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--complaints", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--output", type=Path, default=Path("bench-results/latest.json"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="redress-bench-") as data_dir:
        stack = Stack(data_dir=Path(data_dir), ports=StackPorts.free())
        try:
            stack.start()
            results = asyncio.run(run_benchmarks(stack, args.complaints, args.concurrency))
        finally:
            stack.stop()
    print(f"\n{'benchmark':<52} {'count':>6} {'per s':>8} {'p50 ms':>8} {'p99 ms':>8}")
    for result in results:
        print(
            f"{result['benchmark']:<52} {result['count']:>6} {result['per_second'] or '-':>8} "
            f"{result['p50_ms'] if result['p50_ms'] is not None else '-':>8} "
            f"{result['p99_ms'] if result['p99_ms'] is not None else '-':>8}"
        )
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps({"results": results}, indent=2) + "\n")


if __name__ == "__main__":
    main()
