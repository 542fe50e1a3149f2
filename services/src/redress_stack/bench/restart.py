"""What durability costs the embedded stack: a restart re-publishes the outboxes' history.

``python -m redress_stack.bench.restart [--complaints 2000]`` starts a private stack, sends
complaints through it until every one is counted, stops the stack and starts it again on the
same data folder (as ``make run`` after Ctrl-C). The fresh embedded broker has lost the log,
so every outbox row is published again and every consumer drops what it had applied (its
inbox). It prints:

* the start time of the fresh stack and of the restarted one;
* how many events were re-published and how long until every outbox was drained again;
* 202 → case readable and 202 → acknowledgement e-mail of one complaint posted before the
  stop and of one posted right after the restart (it waits behind the re-published history);
* the check that every complaint, before and after the restart, has exactly one case, one
  acknowledgement and one count (re-publication must not double anything).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
import uuid
from pathlib import Path

import asyncpg
import httpx

from redress_stack.bench.pipeline import complaint, verify, wait_until_done
from redress_stack.catalog import SERVICES
from redress_stack.runner import Stack, StackPorts


async def post_all(stack: Stack, run: str, count: int, concurrency: int = 16) -> dict[str, str]:
    """Post ``count`` distinct complaints; return each accepted one's customer e-mail."""
    emails: dict[str, str] = {}
    gate = asyncio.Semaphore(concurrency)
    headers = {"Authorization": f"Bearer {stack.admin_key}"}
    async with httpx.AsyncClient(headers=headers, timeout=60) as client:

        async def post(index: int) -> None:
            payload = complaint(run, index)
            async with gate:
                answer = await client.post(
                    f"{stack.url('intake-service')}/v1/complaints",
                    json=payload,
                    headers={"Idempotency-Key": f"{run}-{index}"},
                )
            answer.raise_for_status()
            emails[answer.json()["complaint_id"]] = payload["customer"]["email"]

        await asyncio.gather(*(post(index) for index in range(count)))
    return emails


async def one_complaint_through(stack: Stack, label: str, timeout: float) -> dict:
    """Post one complaint; how long after its 202 it was readable as a case and acknowledged."""
    run = f"{label.replace(' ', '-')}-{uuid.uuid4().hex[:6]}"
    accepted = time.time()
    emails = await post_all(stack, run, 1)
    times = await wait_until_done(stack, emails, timeout)
    [complaint_id] = emails
    return {
        "benchmark": f"one complaint {label}",
        "posted_to_case_readable_s": round(times["case"][complaint_id] - accepted, 3),
        "posted_to_acknowledged_s": round(times["acknowledgement"][complaint_id] - accepted, 3),
        "posted_to_counted_s": round(times["count"][complaint_id] - accepted, 3),
    }, emails


async def outbox_rows(stack: Stack, *, unpublished_only: bool) -> int:
    """Outbox rows of every service (all of them, or those still to publish)."""
    connection = await asyncpg.connect(
        stack.database_url.replace("postgresql+asyncpg://", "postgresql://")
    )
    try:
        where = " WHERE published_at IS NULL AND parked_at IS NULL" if unpublished_only else ""
        counts = [
            await connection.fetchval(f'SELECT count(*) FROM "{spec.schema}".outbox{where}')
            for spec in SERVICES
        ]
    finally:
        await connection.close()
    return sum(counts)


async def drained_after(stack: Stack, began: float, timeout: float) -> float:
    """Seconds from ``began`` until no outbox row is left to publish."""
    deadline = time.monotonic() + timeout
    while True:
        left = await outbox_rows(stack, unpublished_only=True)
        if not left or time.monotonic() > deadline:
            return time.monotonic() - began
        await asyncio.sleep(0.2)


def main() -> None:
    """Fill a stack, restart it on the same folder, measure, verify, print."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--complaints", type=int, default=2000, help="history before the stop")
    parser.add_argument("--timeout", type=float, default=900.0, help="longest wait per step")
    args = parser.parse_args()
    results: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="redress-bench-") as data_dir:
        ports = StackPorts.free()
        stack = Stack(data_dir=Path(data_dir), ports=ports)
        began = time.monotonic()
        try:
            stack.start()
            results.append(
                {"benchmark": "fresh stack start", "seconds": round(time.monotonic() - began, 1)}
            )
            history = asyncio.run(post_all(stack, "history", args.complaints))
            asyncio.run(wait_until_done(stack, history, args.timeout))
            before, before_emails = asyncio.run(
                one_complaint_through(stack, "before the stop", args.timeout)
            )
            results.append(before)
            events = asyncio.run(outbox_rows(stack, unpublished_only=False))
        finally:
            stack.stop()
        stack = Stack(data_dir=Path(data_dir), ports=ports)
        began = time.monotonic()
        try:
            stack.start()
            started = time.monotonic() - began
            results.append(
                {"benchmark": "restart on the same folder", "seconds": round(started, 1)}
            )
            after, after_emails = asyncio.run(
                one_complaint_through(stack, "right after the restart", args.timeout)
            )
            drained = asyncio.run(drained_after(stack, began, args.timeout))
            results.append(after)
            results.append(
                {
                    "benchmark": "re-publication of the history",
                    "events": events,
                    # The relays start with the services, so part or all of it is done by
                    # the time the stack answers.
                    "outboxes_drained_s_after_restart_began": round(drained, 1),
                    "after_ready_s": round(max(0.0, drained - started), 1),
                }
            )
            results.append(asyncio.run(verify(stack, {**history, **before_emails, **after_emails})))
        finally:
            stack.stop()
    for result in results:
        print(json.dumps(result, ensure_ascii=False))
    verification = results[-1]
    if any(verification[key] for key in verification if key.startswith("without")):
        print("FAILED: the restart lost or doubled work", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
