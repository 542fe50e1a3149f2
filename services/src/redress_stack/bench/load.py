"""The benchmarks' HTTP load generator: aiohttp, whose client costs a tenth of httpx's.

The load generator shares the machine's cores with the stack it measures, so whatever it
spends is taken from the stack. Measured on the 2-core benchmark machine against a bare ASGI
app answering 202, 64 requests open at a time: httpx 2.9 ms of client CPU per request
(80 requests/s), aiohttp 0.32 ms (1,684 requests/s). Every benchmark that posts complaints
uses this module, and reports what its client spent per request.
"""

from __future__ import annotations

import json
import resource
from collections.abc import Mapping
from typing import Any

import aiohttp
import psutil

#: uvicorn's default ``timeout_keep_alive`` (seconds), which the services run with.
SERVER_KEEP_ALIVE = 5


def client(
    concurrency: int, headers: Mapping[str, str] | None = None, base_url: str | None = None
) -> aiohttp.ClientSession:
    """A session keeping at most ``concurrency`` connections open, reused between requests
    (paths are relative to ``base_url`` when it is given)."""
    return aiohttp.ClientSession(
        base_url=base_url,
        # Idle connections are dropped before uvicorn closes them (its keep-alive is 5 s):
        # a POST on a connection the server is closing fails instead of being retried.
        connector=aiohttp.TCPConnector(
            limit=concurrency, force_close=False, keepalive_timeout=SERVER_KEEP_ALIVE - 1
        ),
        headers=dict(headers or {}),
        timeout=aiohttp.ClientTimeout(total=120),
    )


async def post_json(
    session: aiohttp.ClientSession,
    url: str,
    payload: Any,
    headers: Mapping[str, str] | None = None,
) -> tuple[int, Any]:
    """POST ``payload`` as JSON; return the status and the decoded JSON answer (or None)."""
    body = json.dumps(payload).encode()
    wanted = {"Content-Type": "application/json", **(headers or {})}
    async with session.post(url, data=body, headers=wanted) as response:
        answer = await response.read()
    try:
        return response.status, json.loads(answer) if answer else None
    except ValueError:
        return response.status, None


async def post_bytes(
    session: aiohttp.ClientSession,
    url: str,
    body: bytes,
    headers: Mapping[str, str] | None = None,
) -> int:
    """POST a body as it is; return the status (the answer is read and dropped)."""
    async with session.post(url, data=body, headers=dict(headers or {})) as response:
        await response.read()
        return response.status


def own_cpu_seconds() -> float:
    """CPU seconds this process (the load generator) has used so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def tree_cpu_seconds(pid: int) -> float:
    """CPU seconds (user + system) process ``pid`` and its descendants have used so far, those
    that have exited included: a PostgreSQL backend or autovacuum worker, or a server's worker,
    that ends between two readings leaves what it used in its parent's ``children_*`` times,
    not in the live tree. 0 when the process is gone."""
    try:
        root = psutil.Process(pid)
        processes = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0.0
    total = 0.0
    for process in processes:
        try:
            times = process.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system + times.children_user + times.children_system
    return total


CLIENT_ERRORS = (aiohttp.ClientError, TimeoutError)
"""What a request can fail with on the client's side (refused, reset, timed out)."""
