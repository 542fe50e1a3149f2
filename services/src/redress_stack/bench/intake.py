"""Intake on its own: e-mail and JSON intake throughput and p50/p99 latency.

Starts only what intake needs: an embedded PostgreSQL and Tansu in a temporary folder, the
intake schema migrated, and the intake service as its own process (``python -m
intake_service serve``, its outbox relay publishing as in production). Then it measures, at
a fixed concurrency, each request until its answer (the raw submission and the complaint
committed):

* ``POST /v1/complaints`` (JSON from another system);
* ``POST /v1/intake/email`` with realistic messages in rotation: multipart/alternative
  UTF-8, a windows-1251 (Cyrillic) and an iso-8859-2 (Slovenian) plain message, an HTML-only
  one, and one with a 64 KiB PDF attachment (whose bytes are stored by sha256).

Every submission is distinct (its own customer), so each one is a new complaint: no
duplicate shortcuts. In the same run, after intake has stopped, it measures the ceiling (a
minimal FastAPI app with one asyncpg insert per request, :mod:`redress_stack.bench.ceiling`)
on the same PostgreSQL at the same concurrency, and prints the ratio of JSON intake to it:
figures on a shared machine are noisy, the ratio much less so. It also reports the intake process's
resident memory (when ready, after the load, and its peak), which the Kubernetes manifest's
memory request and limit are set from.
With ``--workers N`` intake runs N worker processes on its port (``REDRESS_HTTP_WORKERS``);
its CPU time and memory are then those of all its processes together.
Run: ``python -m redress_stack.bench.intake [--count N] [--rate R] [--workers N] [--no-email]``;
by default as issue 13's intake target reads: 5,000 submissions, 32 at a time, then 1,000/s
offered, intake with as many workers as the stack runner gives it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

import aiohttp
import httpx
import psutil
from redress_shared.migrations import upgrade_to_head
from redress_testing import start_test_infra

from redress_stack.bench import load as bench_load
from redress_stack.bench.ceiling import measure_ceiling
from redress_stack.bench.stats import summary
from redress_stack.catalog import service
from redress_stack.infra import ManagedProcess, free_port, wait_for


def _customer(index: int) -> str:
    return f"bench{index}.{uuid.uuid4().hex[:8]}@example.com"


def json_complaint(index: int) -> bytes:
    """One ``POST /v1/complaints`` body."""
    return json.dumps(
        {
            "customer": {"email": _customer(index), "language": "ro"},
            "subject": "Încărcător stricat",
            "body": f"Încărcătorul nu mai funcționează după două zile. Comanda SO-{index}.",
            "product": {"sku": "CH-20"},
            "supplier": "Voltix",
        }
    ).encode()


def _base(index: int, subject: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = f"Customer {index} <{_customer(index)}>"
    message["To"] = "complaints@example.com"
    message["Subject"] = subject
    message["Message-ID"] = make_msgid(domain="bench.example")
    return message


def alternative_utf8(index: int) -> bytes:
    message = _base(index, "Paket ni prispel")
    message.set_content(f"Paket še vedno ni prispel, naročilo SO-{index}.")
    message.add_alternative(
        f"<p>Paket še vedno <b>ni prispel</b>, naročilo SO-{index}.</p>", "html"
    )
    return message.as_bytes()


def cyrillic_windows_1251(index: int) -> bytes:
    head = (
        f"From: {_customer(index)}\r\n"
        "To: complaints@example.com\r\n"
        "Subject: =?windows-1251?b?z+7r7uzg7e3g/yDn4PD/5O3g/yDz8fLw7unx8uLu?=\r\n"
        f"Message-ID: {make_msgid(domain='bench.example')}\r\n"
        "MIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=windows-1251\r\n"
        "Content-Transfer-Encoding: 8bit\r\n\r\n"
    ).encode()
    body = f"Зарядное устройство сломалось через два дня. Заказ SO-{index}.\r\n"
    return head + body.encode("windows-1251")


def latin2_plain(index: int) -> bytes:
    head = (
        f"From: {_customer(index)}\r\n"
        "To: complaints@example.com\r\n"
        "Subject: =?iso-8859-2?q?Ra=E8un?=\r\n"
        f"Message-ID: {make_msgid(domain='bench.example')}\r\n"
        "MIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=iso-8859-2\r\n"
        "Content-Transfer-Encoding: 8bit\r\n\r\n"
    ).encode()
    return head + f"Račun ste mi zaračunali dvakrat, naročilo SO-{index}.\r\n".encode("iso-8859-2")


def html_only(index: int) -> bytes:
    message = _base(index, "Internets nedarbojas")
    message.set_content(
        f"<html><body><p>Mans internets nedarbojas jau trīs dienas.</p><p>SO-{index}</p>"
        "</body></html>",
        subtype="html",
    )
    return message.as_bytes()


def with_pdf_attachment(index: int) -> bytes:
    message = _base(index, "Factura gresita")
    message.set_content(f"Factura atașată este greșită, comanda SO-{index}.")
    pdf = b"%PDF-1.7\n" + os.urandom(64 * 1024)
    message.add_attachment(pdf, maintype="application", subtype="pdf", filename="factura.pdf")
    return message.as_bytes()


EMAIL_KINDS: tuple[Callable[[int], bytes], ...] = (
    alternative_utf8,
    cyrillic_windows_1251,
    latin2_plain,
    html_only,
    with_pdf_attachment,
)


def email_message(index: int) -> bytes:
    """The ``index``-th message of the rotation."""
    return EMAIL_KINDS[index % len(EMAIL_KINDS)](index)


async def load(
    client: aiohttp.ClientSession,
    path: str,
    content_type: str,
    body_of: Callable[[int], bytes],
    count: int,
    concurrency: int,
) -> tuple[float, list[float]]:
    """POST ``count`` bodies with ``concurrency`` workers; the run time and every latency."""
    bodies = [body_of(index) for index in range(count)]  # built before the clock starts
    latencies: list[float] = []
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)

    async def worker() -> None:
        while not queue.empty():
            body = queue.get_nowait()
            started = time.perf_counter()
            status = await bench_load.post_bytes(
                client, path, body, headers={"Content-Type": content_type}
            )
            latencies.append(time.perf_counter() - started)
            if status != 202:
                raise RuntimeError(f"{path}: answered {status}")

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - started, latencies


async def offer(
    client: aiohttp.ClientSession, body_of: Callable[[int], bytes], count: int, rate: float
) -> tuple[float, list[float]]:
    """Offer ``count`` JSON complaints at a fixed ``rate`` per second (open loop: a slow
    answer does not delay the next request); each latency runs from the request's scheduled
    time, so queueing in the client counts too. The run time and every latency."""
    bodies = [body_of(index) for index in range(count)]
    latencies: list[float] = []

    async def one(body: bytes, due: float) -> None:
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
        status = await bench_load.post_bytes(
            client, "/v1/complaints", body, headers={"Content-Type": "application/json"}
        )
        latencies.append(time.perf_counter() - due)
        if status != 202:
            raise RuntimeError(f"/v1/complaints: answered {status}")

    started = time.perf_counter()
    await asyncio.gather(*(one(body, started + i / rate) for i, body in enumerate(bodies)))
    return time.perf_counter() - started, latencies


async def run(
    base_url: str,
    admin_key: str,
    count: int,
    concurrency: int,
    email: bool = True,
    rate: float | None = None,
    server_cpu_seconds: Callable[[], float] | None = None,
) -> list[dict]:
    """Warm up, then measure JSON and e-mail intake (and JSON at a fixed offered ``rate``).

    ``server_cpu_seconds`` reads the intake process's CPU time: the closed-loop JSON result
    then says how much CPU one request costs there, a figure that the other processes
    sharing the machine disturb much less than the rate."""
    # At a fixed offered rate every request may be open at once; closed loop, ``concurrency``.
    async with bench_load.client(
        max(concurrency, 256) if rate else concurrency,
        {"Authorization": f"Bearer {admin_key}"},
        base_url=base_url,
    ) as client:
        # Warm-up: connection pools, first-use code paths (not measured).
        await load(client, "/v1/complaints", "application/json", json_complaint, 20, 4)
        await load(client, "/v1/intake/email", "message/rfc822", email_message, 20, 4)
        results = []
        cpu_before = server_cpu_seconds() if server_cpu_seconds else 0.0
        client_cpu_before = bench_load.own_cpu_seconds()
        seconds, latencies = await load(
            client, "/v1/complaints", "application/json", json_complaint, count, concurrency
        )
        json_result = summary(
            f"intake alone: POST /v1/complaints (concurrency {concurrency})",
            count,
            seconds,
            latencies,
        )
        if server_cpu_seconds:
            cpu_ms = (server_cpu_seconds() - cpu_before) * 1000
            json_result["intake_cpu_ms_per_request"] = round(cpu_ms / count, 3)
        client_cpu_ms = (bench_load.own_cpu_seconds() - client_cpu_before) * 1000
        json_result["load_generator_cpu_ms_per_request"] = round(client_cpu_ms / count, 3)
        results.append(json_result)
        if rate:
            cpu_before = server_cpu_seconds() if server_cpu_seconds else 0.0
            seconds, latencies = await offer(client, json_complaint, count, rate)
            offered_result = summary(
                f"intake alone: POST /v1/complaints offered at {rate:g}/s",
                count,
                seconds,
                latencies,
            )
            if server_cpu_seconds:
                # At a rate below the closed loop's, batches are smaller: the figure to
                # compare with intake's share in the pipeline.
                cpu_ms = (server_cpu_seconds() - cpu_before) * 1000
                offered_result["intake_cpu_ms_per_request"] = round(cpu_ms / count, 3)
            results.append(offered_result)
        if not email:
            return results
        seconds, latencies = await load(
            client, "/v1/intake/email", "message/rfc822", email_message, count, concurrency
        )
        results.append(
            summary(
                f"intake alone: POST /v1/intake/email, 5 kinds (concurrency {concurrency})",
                count,
                seconds,
                latencies,
            )
        )
        return results


def _peak_kib(pid: int) -> int:
    return next(
        int(line.split()[1])
        for line in Path(f"/proc/{pid}/status").read_text().splitlines()
        if line.startswith("VmHWM:")
    )


def _memory(processes: list[psutil.Process], ready_bytes: int) -> dict:
    """Intake's resident memory (all its processes) when ready and after the load, and its
    peak (``VmHWM``, summed): what the Kubernetes memory request and limit are set from."""
    return {
        "benchmark": "intake resident memory (MiB)",
        "processes": len(processes),
        "ready": round(ready_bytes / 2**20, 1),
        "after_load": round(sum(p.memory_info().rss for p in processes) / 2**20, 1),
        "peak": round(sum(_peak_kib(p.pid) for p in processes) / 1024, 1),
    }


def intake_processes(pid: int, workers: int) -> list[psutil.Process]:
    """The intake process, and with workers its worker processes (not multiprocessing's
    resource tracker, which idles)."""
    process = psutil.Process(pid)
    if workers <= 1:
        return [process]
    children = [
        child for child in process.children() if "resource_tracker" not in " ".join(child.cmdline())
    ]
    if len(children) != workers:
        raise RuntimeError(f"intake has {len(children)} workers, not {workers}")
    return [process, *children]


def main() -> None:
    """Start PostgreSQL, Tansu and intake only; print one JSON line per result."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=5000, help="submissions per benchmark")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument(
        "--rate",
        type=float,
        default=1000.0,
        help="also offer JSON complaints at this fixed rate per second (0: not)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=service("intake-service").local_workers,
        help="intake's worker processes (REDRESS_HTTP_WORKERS; default: as the stack runs it)",
    )
    parser.add_argument("--no-email", action="store_true", help="measure JSON intake only")
    parser.add_argument("--no-ceiling", action="store_true", help="skip the ceiling")
    args = parser.parse_args()
    from intake_service import MIGRATIONS_DIR

    with tempfile.TemporaryDirectory(prefix="redress-bench-intake-") as folder:
        root = Path(folder)
        os.chmod(root, 0o755)  # the embedded PostgreSQL runs as an unprivileged user
        infra, stoppers = start_test_infra(root)
        port = free_port()
        intake = ManagedProcess(
            "intake-service",
            [sys.executable, "-m", "intake_service", "serve"],
            root / "intake-service.log",
            env={
                **{k: v for k, v in os.environ.items() if not k.startswith("REDRESS_")},
                "REDRESS_DATABASE_URL": infra.database_url,
                "REDRESS_KAFKA_BOOTSTRAP_SERVERS": infra.kafka_bootstrap_servers,
                "REDRESS_ADMIN_API_KEY": infra.admin_key,
                "REDRESS_HTTP_PORT": str(port),
                "REDRESS_INTAKE_SMTP_PORT": "0",
                "REDRESS_LOG_LEVEL": "WARNING",
                "REDRESS_HTTP_WORKERS": str(args.workers),
            },
        )
        try:
            upgrade_to_head(infra.database_url, MIGRATIONS_DIR, "intake")
            intake.start()
            base_url = f"http://127.0.0.1:{port}"

            def ready() -> bool:
                try:
                    return httpx.get(f"{base_url}/readyz", timeout=2).status_code == 200
                except httpx.HTTPError:
                    return False

            wait_for(ready, 180, "intake-service /readyz", intake)
            assert intake.process is not None
            processes = intake_processes(intake.process.pid, args.workers)
            ready_bytes = sum(process.memory_info().rss for process in processes)

            def intake_cpu_seconds() -> float:
                return bench_load.tree_cpu_seconds(intake.process.pid)

            results = asyncio.run(
                run(
                    base_url,
                    infra.admin_key,
                    args.count,
                    args.concurrency,
                    email=not args.no_email,
                    rate=args.rate,
                    server_cpu_seconds=intake_cpu_seconds,
                )
            )
            for result in results:
                result["intake_workers"] = args.workers
            results.append(_memory(processes, ready_bytes))
            intake.stop()
            if not args.no_ceiling:
                payload = json.loads(json_complaint(0))
                ceiling = measure_ceiling(
                    infra.database_url,
                    payload,
                    seconds=10.0,
                    concurrency=args.concurrency,
                    workers=args.workers,
                )
                results.extend([ceiling, ratio_to_ceiling(results[0], ceiling)])
        finally:
            intake.stop()
            for stop in reversed(stoppers):
                stop()
    for result in results:
        print(json.dumps(result, ensure_ascii=False))


def ratio_to_ceiling(intake: dict, ceiling: dict) -> dict:
    """The closed-loop JSON intake rate as a share of the ceiling's, measured in one run, and
    the same for the server's CPU per request (the steadier figure on a shared machine)."""
    intake_cpu = intake.get("intake_cpu_ms_per_request")
    ceiling_cpu = ceiling.get("server_cpu_ms_per_request")
    return {
        "benchmark": "ratio: intake alone (JSON) / ceiling",
        "intake_per_second": intake["per_second"],
        "ceiling_per_second": ceiling["per_second"],
        "ratio": round(intake["per_second"] / ceiling["per_second"], 3)
        if ceiling["per_second"]
        else None,
        "cpu_per_request_ratio": round(intake_cpu / ceiling_cpu, 2)
        if intake_cpu and ceiling_cpu
        else None,
    }


if __name__ == "__main__":
    main()
