"""The whole pipeline under a fixed offered rate, against its ceiling (``make bench``).

``python -m redress_stack.bench.pipeline [--rates 100,200,400,800] [--seconds 60]`` starts a
private stack (free ports, a temporary data folder, embedded PostgreSQL and Tansu), then for
each rate offers distinct complaints at that rate (open loop: a slow answer does not slow the
offer) for the given time, waits until every accepted complaint has gone all the way, and
prints per rate (the ladder stops at the first rate the stack cannot sustain):

* intake: accepted per second, p50/p99 of the 202;
* 202 → case readable, 202 → acknowledgement e-mail in the Maildir, 202 → counted in
  analytics: the rate at which complaints completed each stage and p50/p99 latency;
* the CPU each process (with its children: PostgreSQL's backends, a service's workers) and
  the load generator spent per accepted complaint, from the first offer until the rate had
  drained: where the machine's cores went.

Each stage is timed from the complaint's ``received_at`` in intake's answer (the server's
clock, as every later stage's). Stage times are read where they happen: the case service's outbox row for ``case.opened``
(written in the transaction that made the case readable), the mail sink's Maildir file, and
the analytics inbox row of the complaint's event (written with its count). In the same run it
measures the ceiling, a minimal FastAPI app with one asyncpg insert per request on the same
PostgreSQL (:mod:`redress_stack.bench.ceiling`), and prints the ratio of Redress's sustained end
to end rate to it. It ends by checking that every accepted complaint has exactly one case, one
acknowledgement and one count: a benchmark that loses or doubles work fails (exit code 1).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import mailbox
import sys
import tempfile
import time
import uuid
from collections import Counter
from datetime import datetime
from pathlib import Path

import aiohttp
import asyncpg

from redress_stack.bench import load
from redress_stack.bench.ceiling import measure_ceiling
from redress_stack.bench.stats import summary
from redress_stack.catalog import service
from redress_stack.runner import Stack, StackPorts

ANALYTICS_GROUP = "analytics-service.facts"
# A rate counts as sustained when this share of it completes every stage.
SUSTAINED_SHARE = 0.9
# Requests the load generator keeps open at once (see offer()).
IN_FLIGHT = 128


def complaint(run: str, index: int) -> dict:
    """A distinct complaint (its own customer), as another system would post it."""
    return {
        "customer": {"email": f"bench-{run}-{index}@example.com", "language": "ro"},
        "subject": "Benchmark",
        "body": f"Încărcătorul nu mai funcționează după două zile ({index}).",
        "category": ["product_defect", "delivery", "billing_error"][index % 3],
        "product": {"sku": "CH-20"},
        "supplier": "Voltix",
    }


async def offer(
    client: aiohttp.ClientSession, url: str, run: str, rate: float, seconds: float
) -> tuple[dict, dict[str, float], dict[str, str]]:
    """Post ``rate`` complaints a second for ``seconds``; return the intake summary, the wall
    time each accepted complaint was answered, and each one's customer e-mail."""
    latencies: list[float] = []
    accepted_at: dict[str, float] = {}
    emails: dict[str, str] = {}
    refused = Counter()
    total = int(rate * seconds)

    # At most IN_FLIGHT requests open at once: beyond that, a Python client spends its time
    # on its own queue and measures itself, not intake. A request waiting for
    # its turn still counts its latency from when it was due (no coordinated omission).
    gate = asyncio.Semaphore(IN_FLIGHT)

    async def post(index: int, due: float) -> None:
        payload = complaint(run, index)
        try:
            async with gate:
                status, answer = await load.post_json(
                    client,
                    f"{url}/v1/complaints",
                    payload,
                    headers={"Idempotency-Key": f"{run}-{index}"},
                )
        except load.CLIENT_ERRORS as error:
            refused[type(error).__name__] += 1
            return
        latencies.append(time.perf_counter() - due)
        if status in (200, 202):
            # The stages are timed from when intake received the complaint (its clock, as
            # the later stages' are), not from when this busy client read the answer.
            accepted_at[answer["complaint_id"]] = datetime.fromisoformat(
                answer["received_at"]
            ).timestamp()
            complaint_id = answer["complaint_id"]
            emails[complaint_id] = payload["customer"]["email"]
        else:
            refused[str(status)] += 1

    began = time.perf_counter()
    cpu_before = load.own_cpu_seconds()
    tasks = []
    for index in range(total):
        due = began + index / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(post(index, due)))
    await asyncio.gather(*tasks)
    result = summary(
        f"intake at {rate:g}/s offered", len(accepted_at), time.perf_counter() - began, latencies
    )
    result["offered"] = total
    result["refused"] = dict(refused)
    # What the load generator took from the machine the stack runs on.
    result["load_generator_cpu_ms_per_request"] = round(
        (load.own_cpu_seconds() - cpu_before) * 1000 / max(total, 1), 3
    )
    return result, accepted_at, emails


_DELIVERED: dict[Path, dict[str, tuple[str, float]]] = {}


def _delivered(maildir: Path) -> dict[str, float]:
    """Recipient → when its message was filed, for every message in ``maildir``. Each file is
    parsed once (the benchmark polls while the stack drains, on the cores it measures)."""
    seen = _DELIVERED.setdefault(maildir, {})
    mails = mailbox.Maildir(maildir, create=False)
    for key in mails.keys():
        if key not in seen:
            folder = "new" if (maildir / "new" / key).exists() else "cur"
            seen[key] = (mails[key]["To"] or "", (maildir / folder / key).stat().st_mtime)
    return {recipient: at for recipient, at in seen.values()}


async def stage_times(
    database_url: str, maildir: Path, emails: dict[str, str]
) -> dict[str, dict[str, float]]:
    """When each complaint reached each stage (wall-clock seconds), as far as it got."""
    connection = await asyncpg.connect(database_url.replace("postgresql+asyncpg", "postgresql"))
    try:
        cases = await connection.fetch(
            "SELECT event->'data'->>'complaint_id' AS complaint_id, "
            "extract(epoch FROM created_at) AS at FROM cases.outbox "
            "WHERE event->>'type' = 'redress.case.opened.v1'"
        )
        counted = await connection.fetch(
            "SELECT o.event->'data'->>'complaint_id' AS complaint_id, "
            "extract(epoch FROM i.processed_at) AS at "
            "FROM intake.outbox o JOIN analytics.inbox i ON i.event_id = o.event_id "
            "WHERE i.consumer = $1 AND o.event->>'type' = 'redress.complaint.received.v1'",
            ANALYTICS_GROUP,
        )
    finally:
        await connection.close()
    by_email = {email: complaint_id for complaint_id, email in emails.items()}
    acknowledged: dict[str, float] = {}
    for recipient, at in _delivered(Path(maildir)).items():
        complaint_id = by_email.get(recipient)
        if complaint_id is not None:
            acknowledged[complaint_id] = at
    return {
        "case": {row["complaint_id"]: float(row["at"]) for row in cases},
        "acknowledgement": acknowledged,
        "count": {row["complaint_id"]: float(row["at"]) for row in counted},
    }


async def wait_until_done(stack: Stack, emails: dict[str, str], timeout: float) -> dict:
    """Poll the stage times until every accepted complaint is counted (or ``timeout``)."""
    deadline = time.monotonic() + timeout
    while True:
        times = await stage_times(stack.database_url, stack.maildir, emails)
        done = all(
            set(emails) <= set(times[stage]) for stage in ("case", "acknowledgement", "count")
        )
        if done or time.monotonic() > deadline:
            return times
        await asyncio.sleep(1.0)


def cpu_seconds(process_ids: dict[str, int]) -> dict[str, float]:
    """CPU seconds each stack process and its children have used so far
    (:func:`redress_stack.bench.load.tree_cpu_seconds`), and the load generator's."""
    used: dict[str, float] = {"load generator": load.own_cpu_seconds()}
    for name, pid in process_ids.items():
        used[name] = load.tree_cpu_seconds(pid)
    return used


def cpu_per_complaint(
    rate: float, before: dict[str, float], after: dict[str, float], complaints: int
) -> dict:
    """Milliseconds of CPU each process spent per accepted complaint between two samples,
    largest first: where a rate's two cores went."""
    spent = {
        name: round((after[name] - before.get(name, 0.0)) * 1000 / max(complaints, 1), 2)
        for name in after
    }
    ordered = dict(sorted(spent.items(), key=lambda item: item[1], reverse=True))
    return {
        "benchmark": f"CPU ms per complaint at {rate:g}/s",
        **ordered,
        "total": round(sum(spent.values()), 2),
    }


def stage_summary(name: str, accepted_at: dict[str, float], reached: dict[str, float]) -> dict:
    """Completion rate and latency of one stage for the complaints accepted at one rate."""
    latencies = [reached[c] - t for c, t in accepted_at.items() if c in reached]
    if not latencies:
        return summary(name, 0, 0, [])
    first = min(accepted_at.values())
    last = max(reached[c] for c in accepted_at if c in reached)
    result = summary(name, len(latencies), last - first, latencies)
    result["missing"] = len(accepted_at) - len(latencies)
    return result


async def run_rates(stack: Stack, rates: list[float], seconds: float, drain: float) -> list[dict]:
    """Offer each rate in turn and follow its complaints to the end of the pipeline."""
    headers = {"Authorization": f"Bearer {stack.admin_key}"}
    results: list[dict] = []
    all_emails: dict[str, str] = {}
    async with load.client(IN_FLIGHT, headers) as client:
        # Warm-up: the first complaint pays for model loading and connection set-up.
        warm, _, warm_emails = await offer(client, stack.url("intake-service"), "warm", 5, 2)
        all_emails.update(warm_emails)
        await wait_until_done(stack, warm_emails, drain)
        for rate in rates:
            run = uuid.uuid4().hex[:6]
            cpu_before = cpu_seconds(stack.process_ids())
            intake, accepted_at, emails = await offer(
                client, stack.url("intake-service"), run, rate, seconds
            )
            all_emails.update(emails)
            times = await wait_until_done(stack, emails, drain)
            cpu = cpu_per_complaint(
                rate, cpu_before, cpu_seconds(stack.process_ids()), len(accepted_at)
            )
            results.append(intake)
            for stage, label in (
                ("case", "202 → case readable"),
                ("acknowledgement", "202 → acknowledgement e-mail"),
                ("count", "202 → counted in analytics"),
            ):
                line = stage_summary(f"{label} at {rate:g}/s", accepted_at, times[stage])
                line["offered_rate"] = rate
                line["stage"] = stage
                results.append(line)
            # Each rate's figures as soon as they are known: a long run cut short keeps them.
            for line in results[-4:]:
                print(json.dumps(line, ensure_ascii=False), flush=True)
            print(json.dumps(cpu, ensure_ascii=False), flush=True)
            # End to end means every stage: the slowest one is the pipeline's rate.
            completed = min(line["per_second"] or 0.0 for line in results[-3:])
            results.append(cpu)
            if completed < SUSTAINED_SHARE * rate:
                # Saturated: a higher rate would only queue more in the load generator and
                # measure the same ceiling, for many more minutes.
                print(
                    json.dumps(
                        {
                            "benchmark": f"ladder stopped at {rate:g}/s offered",
                            "reason": f"{completed:g}/s through every stage, below "
                            f"{SUSTAINED_SHARE:.0%} of the offered rate",
                            "rates_not_run": [r for r in rates if r > rate],
                        }
                    ),
                    flush=True,
                )
                break
    results.append(await verify(stack, all_emails))
    return results


async def verify(stack: Stack, emails: dict[str, str]) -> dict:
    """Exactly one case, one acknowledgement and one count for every accepted complaint."""
    connection = await asyncpg.connect(
        stack.database_url.replace("postgresql+asyncpg", "postgresql")
    )
    try:
        cases = Counter(
            row["complaint_id"]
            for row in await connection.fetch(
                "SELECT complaint_id::text FROM cases.cases WHERE complaint_id::text = ANY($1)",
                list(emails),
            )
        )
        counted = Counter(
            row["complaint_id"]
            for row in await connection.fetch(
                "SELECT complaint_id::text FROM analytics.complaint_facts "
                "WHERE complaint_id::text = ANY($1)",
                list(emails),
            )
        )
    finally:
        await connection.close()
    mails = Counter(m["To"] for m in mailbox.Maildir(stack.maildir, create=False))
    problems = {
        "without exactly one case": sum(1 for c in emails if cases[c] != 1),
        "without exactly one acknowledgement": sum(1 for e in emails.values() if mails[e] != 1),
        "without exactly one count": sum(1 for c in emails if counted[c] != 1),
    }
    return {"benchmark": "verification", "complaints": len(emails), **problems}


def print_table(results: list[dict]) -> None:
    print(f"\n{'benchmark':<58} {'count':>6} {'per s':>8} {'p50 ms':>9} {'p99 ms':>9}")
    for result in results:
        if "per_second" not in result:
            continue
        print(
            f"{result['benchmark']:<58} {result['count']:>6} {result['per_second'] or '-':>8} "
            f"{result['p50_ms'] if result['p50_ms'] is not None else '-':>9} "
            f"{result['p99_ms'] if result['p99_ms'] is not None else '-':>9}"
        )


def sustained_rate(results: list[dict]) -> float:
    """The highest rate at which complaints completed every stage: per offered rate, the
    slowest stage's completion rate (case, acknowledgement, count), then the best of those."""
    by_rate: dict[float, list[float]] = {}
    for line in results:
        if line.get("stage"):
            by_rate.setdefault(line["offered_rate"], []).append(line["per_second"] or 0.0)
    return max((min(rates) for rates in by_rate.values()), default=0.0)


def main() -> None:
    """Start a private stack, offer each rate, measure the ceiling, verify, print."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rates", default="100,200,400,800", help="offered complaints/s")
    parser.add_argument("--seconds", type=float, default=60.0, help="how long each rate")
    parser.add_argument("--drain", type=float, default=900.0, help="longest wait per rate")
    parser.add_argument("--output", type=Path, default=Path("bench-results/pipeline.json"))
    args = parser.parse_args()
    rates = [float(rate) for rate in args.rates.split(",")]
    with tempfile.TemporaryDirectory(prefix="redress-bench-") as data_dir:
        stack = Stack(data_dir=Path(data_dir), ports=StackPorts.free())
        try:
            stack.start()
            results = asyncio.run(run_rates(stack, rates, args.seconds, args.drain))
            # As many ceiling processes as the stack runs intake workers: like for like.
            ceiling = measure_ceiling(
                stack.database_url,
                complaint("ceiling", 0),
                workers=service("intake-service").local_workers,
            )
        finally:
            stack.stop()
    results.append(ceiling)
    sustained = sustained_rate(results)
    ratio = {
        "benchmark": "ratio: sustained end to end / ceiling",
        "sustained_end_to_end_per_second": sustained,
        "ceiling_per_second": ceiling["per_second"],
        "ratio": round(sustained / ceiling["per_second"], 3) if ceiling["per_second"] else None,
    }
    results.append(ratio)
    for result in results[-3:]:  # the verification, the ceiling and the ratio
        print(json.dumps(result, ensure_ascii=False))
    print_table(results)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps({"results": results}, indent=2, ensure_ascii=False) + "\n")
    verification = next(r for r in results if r["benchmark"] == "verification")
    if any(verification[key] for key in verification if key.startswith("without")):
        print("FAILED: the pipeline lost or doubled work", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
