"""The ceiling the pipeline benchmark compares Redress with: a minimal FastAPI app that stores
each posted JSON body with one asyncpg insert, served by uvicorn like the services, on the same
PostgreSQL and the same machine.

``python -m redress_stack.bench.ceiling --port P --database-url postgresql://... [--workers N]``
serves it (with N uvicorn worker processes, as a Redress service with ``REDRESS_HTTP_WORKERS``);
:func:`measure_ceiling` starts it, loads it closed-loop and returns requests per second.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
from contextlib import asynccontextmanager

import asyncpg
from fastapi import FastAPI, Request

from redress_stack.bench import load
from redress_stack.bench.stats import summary
from redress_stack.infra import free_port, port_open


def create_ceiling_app(database_url: str) -> FastAPI:
    """FastAPI + one asyncpg insert per request: the least any complaint API can do."""
    pool: dict[str, asyncpg.Pool] = {}

    @asynccontextmanager
    async def lifespan(_app: FastAPI):  # type: ignore[no-untyped-def]
        pool["db"] = await asyncpg.create_pool(database_url, min_size=4, max_size=10)
        async with pool["db"].acquire() as connection:
            await connection.execute(
                "CREATE TABLE IF NOT EXISTS bench_ceiling "
                "(id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, body jsonb NOT NULL)"
            )
        yield
        await pool["db"].close()

    app = FastAPI(lifespan=lifespan)

    @app.post("/v1/complaints", status_code=202)
    async def accept(request: Request) -> dict:
        body = await request.body()
        row_id = await pool["db"].fetchval(
            "INSERT INTO bench_ceiling (body) VALUES ($1::jsonb) RETURNING id", body.decode()
        )
        return {"id": row_id}

    return app


DATABASE_URL_VARIABLE = "REDRESS_CEILING_DATABASE_URL"


def ceiling_app_from_environment() -> FastAPI:
    """The ceiling app of one worker process (uvicorn's factory when there are several)."""
    return create_ceiling_app(os.environ[DATABASE_URL_VARIABLE])


async def _load(url: str, seconds: float, concurrency: int, payload: dict, label: str) -> dict:
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds
    async with load.client(concurrency) as client:

        async def worker() -> None:
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                status, _ = await load.post_json(client, url, payload)
                if status >= 400:
                    raise RuntimeError(f"the ceiling app answered {status}")
                latencies.append(time.perf_counter() - started)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return summary(
        f"ceiling: FastAPI + one asyncpg insert ({label}concurrency {concurrency})",
        len(latencies),
        elapsed,
        latencies,
    )


def measure_ceiling(
    database_url: str,
    payload: dict,
    seconds: float = 10.0,
    concurrency: int = 32,
    workers: int = 1,
) -> dict:
    """Serve the ceiling app in its own process (or ``workers`` processes, to compare with a
    service run with as many) and load it; return its summary line."""
    port = free_port()
    label = f"{workers} workers, " if workers > 1 else ""
    plain_url = database_url.replace("postgresql+asyncpg://", "postgresql://")
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "redress_stack.bench.ceiling",
            "--port",
            str(port),
            "--database-url",
            plain_url,
            "--workers",
            str(workers),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while not port_open(port):
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the ceiling app did not start")
            time.sleep(0.1)
        url = f"http://127.0.0.1:{port}/v1/complaints"
        asyncio.run(_load(url, 1.0, concurrency, payload, label))  # warm-up
        cpu_before = load.tree_cpu_seconds(server.pid)
        result = asyncio.run(_load(url, seconds, concurrency, payload, label))
        # CPU per request: much less disturbed by the machine's other work than the rate.
        cpu_ms = (load.tree_cpu_seconds(server.pid) - cpu_before) * 1000
        result["server_cpu_ms_per_request"] = round(cpu_ms / max(result["count"], 1), 3)
        return result
    finally:
        server.terminate()
        server.wait(timeout=30)


def main() -> None:
    """Serve the ceiling app (used by :func:`measure_ceiling`)."""
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    options = {"host": "127.0.0.1", "port": args.port, "log_level": "warning", "access_log": False}
    if args.workers > 1:
        os.environ[DATABASE_URL_VARIABLE] = args.database_url
        uvicorn.run(
            "redress_stack.bench.ceiling:ceiling_app_from_environment",
            factory=True,
            workers=args.workers,
            **options,
        )
    else:
        uvicorn.run(create_ceiling_app(args.database_url), **options)


if __name__ == "__main__":
    main()
