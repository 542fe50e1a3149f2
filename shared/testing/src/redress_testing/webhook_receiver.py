"""The one real webhook receiver on loopback, for the notification tests, the end-to-end
tests and the webhook benchmark.

A Starlette app served by uvicorn inside the caller's event loop. It records every request
(headers, body, arrival time) and answers each according to a policy that sees how many
times this ``webhook-id`` came to this path before, so "fail the first three attempts, then
succeed" is one line. A path made with :meth:`WebhookReceiver.endpoint` answers by its own
:class:`Behaviour` (which a test may change while it runs); any other path by the receiver's
policy. A hang is real: no answer until the hang is over or the caller hangs up.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import uvicorn
from redress_stack.infra import free_port
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route


@dataclass(frozen=True)
class Answer:
    """How to answer one request: a status (with ``Retry-After`` or ``Location`` if given),
    after ``delay`` seconds; or hang for ``hang_seconds`` first."""

    status: int = 200
    retry_after: str | None = None
    hang_seconds: float = 0.0
    delay: float = 0.0
    location: str | None = None


@dataclass(frozen=True)
class ReceivedRequest:
    """One request as it arrived, and what it was answered (None: the caller hung up)."""

    path: str
    headers: dict[str, str]
    body: bytes
    received_at: float
    """Wall-clock Unix time of arrival (comparable with event times)."""
    attempt: int
    """How many requests with this ``webhook-id`` came before this one."""
    answered: int | None

    @property
    def at(self) -> float:
        """Arrival time (seconds), for measuring the time between two requests."""
        return self.received_at


@dataclass
class Behaviour:
    """How one path answers: the first ``hang_first`` attempts of each message hang (no
    answer for ``hang_seconds`` or until the caller hangs up); the first ``fail_first`` get
    ``fail_status`` (with ``Retry-After`` if given); then ``status`` (with ``Location`` if
    given). ``delay`` stalls every answer."""

    status: int = 200
    fail_first: int = 0
    fail_status: int = 500
    retry_after: str | None = None
    delay: float = 0.0
    hang_first: int = 0
    hang_seconds: float = 0.0
    location: str | None = None

    def __call__(self, attempt: int) -> Answer:
        if attempt < self.hang_first:
            return Answer(hang_seconds=self.hang_seconds, delay=self.delay)
        if attempt < self.fail_first:
            return Answer(self.fail_status, retry_after=self.retry_after, delay=self.delay)
        return Answer(self.status, delay=self.delay, location=self.location)


def always_ok(_attempt: int) -> Answer:
    """The default policy: every request succeeds."""
    return Answer()


class WebhookReceiver:
    """HTTP server on 127.0.0.1 that records and answers webhook requests on any path."""

    def __init__(self, policy: Callable[[int], Answer] = always_ok) -> None:
        self.policy = policy
        self.behaviours: dict[str, Behaviour] = {}
        self.requests: list[ReceivedRequest] = []
        self.open_requests: Counter[str] = Counter()
        self.most_open: Counter[str] = Counter()
        """Path -> the most requests it had open at once."""
        self.port = free_port()
        self._attempts: Counter[tuple[str, str]] = Counter()
        self._arrived = asyncio.Event()
        app = Starlette(routes=[Route("/{path:path}", self._receive, methods=["POST"])])
        self._server = uvicorn.Server(
            uvicorn.Config(
                app,
                host="127.0.0.1",
                port=self.port,
                log_level="warning",
                lifespan="off",
                timeout_graceful_shutdown=2,
            )
        )
        self._task: asyncio.Task | None = None

    def url(self, path: str = "/hooks") -> str:
        """The receiver's URL for ``path``."""
        return f"http://127.0.0.1:{self.port}{path}"

    def endpoint(self, **behaviour: object) -> tuple[str, str]:
        """A fresh path answering as the :class:`Behaviour` fields given: ``(path, url)``."""
        path = f"/hooks/{uuid.uuid4().hex}"
        self.behaviours[path] = Behaviour(**behaviour)  # type: ignore[arg-type]
        return path, self.url(path)

    def to(self, path: str) -> list[ReceivedRequest]:
        """The requests received on ``path``, in order."""
        return [r for r in self.requests if r.path == path]

    async def start(self) -> None:
        """Serve in the background until :meth:`stop`."""
        self._task = asyncio.create_task(self._server.serve())
        while not self._server.started:
            if self._task.done():
                self._task.result()  # raises why it could not start
            await asyncio.sleep(0.02)

    async def stop(self) -> None:
        """Stop serving (open hangs end as the server closes their connections)."""
        self._server.should_exit = True
        if self._task is not None:
            await self._task

    async def __aenter__(self) -> WebhookReceiver:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    async def wait_for_more(self, timeout: float) -> None:
        """Return when the next request arrives, or after ``timeout`` seconds."""
        self._arrived.clear()
        try:
            async with asyncio.timeout(timeout):
                await self._arrived.wait()
        except TimeoutError:
            pass

    async def _receive(self, request: Request) -> Response:
        body = await request.body()
        headers = {name.lower(): value for name, value in request.headers.items()}
        path = request.url.path
        key = (path, headers.get("webhook-id", ""))
        attempt = self._attempts[key]
        self._attempts[key] += 1
        answer = self.behaviours.get(path, self.policy)(attempt)
        received_at = time.time()
        self.open_requests[path] += 1
        self.most_open[path] = max(self.most_open[path], self.open_requests[path])
        try:
            if answer.delay:
                await asyncio.sleep(answer.delay)
            if answer.hang_seconds:
                # The body is read, so the next ASGI message is the disconnect, whenever it
                # comes.
                try:
                    async with asyncio.timeout(answer.hang_seconds):
                        while (await request.receive())["type"] != "http.disconnect":
                            pass
                    hung_up = True
                except TimeoutError:
                    hung_up = False
                self._record(request, headers, body, received_at, attempt, None if hung_up else 503)
                return Response(status_code=503)  # the hang is over; if anyone still listens
        finally:
            self.open_requests[path] -= 1
        self._record(request, headers, body, received_at, attempt, answer.status)
        extra = {"Retry-After": answer.retry_after} if answer.retry_after else {}
        if answer.location:
            extra["Location"] = answer.location
        return Response(f"status {answer.status}", status_code=answer.status, headers=extra)

    def _record(
        self,
        request: Request,
        headers: dict[str, str],
        body: bytes,
        received_at: float,
        attempt: int,
        answered: int | None,
    ) -> None:
        self.requests.append(
            ReceivedRequest(request.url.path, headers, body, received_at, attempt, answered)
        )
        self._arrived.set()
