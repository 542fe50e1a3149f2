"""One service process: its engine, producer, outbox relay, consumers and background loops.

Each service's composition root (``bootstrap.py``) builds a :class:`ServiceRuntime` and
hands it to :func:`create_app`; nothing connects to anything at import time.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import functools
import gc
import os
import shutil
import signal
import sys
import tempfile
from collections.abc import Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Annotated

import structlog
import uvicorn
from aiokafka import AIOKafkaProducer
from fastapi import APIRouter, Depends, FastAPI, Request
from prometheus_client.multiprocess import mark_process_dead
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from uvicorn.supervisors.multiprocess import Multiprocess

from redress_shared.admin import dead_letters_router, outbox_admin_router
from redress_shared.api_docs import docs_router
from redress_shared.auth import ApiKeyVerifier, api_keys_router, seed_admin_key
from redress_shared.broker import create_producer
from redress_shared.clock import Clock, clock_from_settings
from redress_shared.db import (
    PlatformTables,
    SessionFactory,
    create_engine,
    create_session_factory,
)
from redress_shared.errors import ProblemMap, install_problem_handlers
from redress_shared.kafka import BatchHandler, EventConsumer, EventHandler
from redress_shared.observability import (
    MULTIPROCESS_DIRECTORY_VARIABLE,
    configure_logging,
    health_router,
)
from redress_shared.openapi_docs import document_problems_and_examples, operations_of
from redress_shared.outbox import OutboxRelay, outbox_channel, prune_outbox_and_inbox
from redress_shared.settings import ServiceSettings
from redress_shared.web import (
    EdgeMiddleware,
    LeanRoute,
    LeanRoutes,
    loopback_twins,
    origin_of,
)

log = structlog.get_logger(__name__)

BackgroundLoop = Callable[[], Awaitable[None]]


@dataclass
class ServiceRuntime:
    """Everything a running service holds; built once per process by the composition root."""

    settings: ServiceSettings
    clock: Clock
    engine: AsyncEngine
    session_factory: SessionFactory
    tables: PlatformTables
    relay: OutboxRelay
    api_keys: ApiKeyVerifier
    producer: AIOKafkaProducer | None = None
    consumers: list[EventConsumer] = field(default_factory=list)
    background: dict[str, BackgroundLoop] = field(default_factory=dict)
    _tasks: list[asyncio.Task] = field(default_factory=list)
    _finished: set[str] = field(default_factory=set)
    _producer_started: bool = False

    @classmethod
    def build(
        cls, settings: ServiceSettings, tables: PlatformTables, clock: Clock | None = None
    ) -> ServiceRuntime:
        """Create (but do not connect) the engine, producer and relay of one service."""
        clock = clock or clock_from_settings(settings.test_clock_file)
        engine = create_engine(settings)
        outbox_committed = asyncio.Event()
        session_factory = create_session_factory(engine, on_outbox_commit=outbox_committed.set)
        relay = OutboxRelay(
            session_factory=session_factory,
            tables=tables,
            clock=clock,
            lock_name=f"{settings.db_schema}-outbox-relay",
            poll_interval=settings.outbox_poll_interval_seconds,
            wakeup=outbox_committed,
            notify_channel=outbox_channel(settings.db_schema),
        )
        api_keys = ApiKeyVerifier(session_factory, tables, settings.api_key_cache_seconds)
        return cls(settings, clock, engine, session_factory, tables, relay, api_keys)

    def add_consumer(
        self,
        group_id: str,
        topics: Iterable[str],
        handlers: dict[str, EventHandler],
        batch_handler: BatchHandler | None = None,
    ) -> None:
        """Register a consumer group that runs while the service runs (see
        :class:`~redress_shared.kafka.EventConsumer` for ``batch_handler``)."""
        self.consumers.append(
            EventConsumer(
                group_id=group_id,
                topics=list(topics),
                handlers=handlers,
                session_factory=self.session_factory,
                tables=self.tables,
                settings=self.settings,
                batch_handler=batch_handler,
            )
        )

    def add_background(self, name: str, loop: BackgroundLoop) -> None:
        """Register a long-running loop (a scheduler, a dispatcher, a listener)."""
        self.background[name] = loop

    async def start(self) -> None:
        """Connect, seed the admin key and start the relay, consumers and loops."""
        await self._start_producer()
        admin_key = self.settings.admin_api_key
        if admin_key is not None:
            await seed_admin_key(self.session_factory, self.tables, admin_key.get_secret_value())
        producer = self.producer
        assert producer is not None
        loops: dict[str, BackgroundLoop] = {
            "outbox-relay": lambda: self.relay.run(producer),
            "retention": self._retention_loop,
            **self.background,
        }
        for consumer in self.consumers:
            loops[f"consumer:{consumer.group_id}"] = functools.partial(consumer.run, producer)
        self._tasks = [
            asyncio.create_task(self._supervise(name, loop), name=name)
            for name, loop in loops.items()
        ]

    async def _retention_loop(self) -> None:
        """Keep the outbox and the inbox bounded: delete what is past its window."""
        settings = self.settings

        def window(seconds: float) -> timedelta | None:
            return timedelta(seconds=seconds) if seconds > 0 else None  # 0: keep for ever

        outbox_window = window(settings.outbox_retention_seconds)
        inbox_window = window(settings.inbox_retention_seconds)
        if outbox_window is None and inbox_window is None:
            return
        while True:
            pruned = await prune_outbox_and_inbox(
                self.session_factory,
                self.tables,
                self.clock,
                outbox_retention=outbox_window,
                inbox_retention=inbox_window,
            )
            if pruned.outbox or pruned.inbox:
                log.info("retention_pruned", outbox=pruned.outbox, inbox=pruned.inbox)
            await asyncio.sleep(settings.retention_interval_seconds)

    async def _start_producer(self) -> None:
        for attempt in range(1, 61):
            self.producer = create_producer(self.settings)
            try:
                await self.producer.start()
                self._producer_started = True
                return
            except Exception as exc:
                await self.producer.stop()
                if attempt == 60:
                    raise
                log.warning("kafka_not_reachable", attempt=attempt, error=repr(exc))
                await asyncio.sleep(1.0)

    async def _supervise(self, name: str, loop: BackgroundLoop) -> None:
        while True:
            try:
                await loop()
                self._finished.add(name)  # a one-off job (a warm-up) that is done
                return
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("background_loop_crashed", loop=name)
                await asyncio.sleep(1.0)

    async def stop(self) -> None:
        """Stop every loop, then the producer and the connection pool."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        if self._producer_started and self.producer is not None:
            await self.producer.stop()
            self._producer_started = False
        await self.engine.dispose()

    def readiness_checks(self) -> dict[str, Callable[[], Awaitable[None]]]:
        """Checks behind ``/readyz``: database, broker and every consumer."""

        async def database() -> None:
            async with self.engine.connect() as connection:
                await connection.execute(text("SELECT 1"))

        async def broker() -> None:
            if not self._producer_started:
                raise RuntimeError("producer not started")

        async def consumers() -> None:
            waiting = [c.group_id for c in self.consumers if not c.started]
            if waiting:
                raise RuntimeError(f"not yet joined: {', '.join(waiting)}")

        async def loops() -> None:
            dead = [
                t.get_name() for t in self._tasks if t.done() and t.get_name() not in self._finished
            ]
            if dead:
                raise RuntimeError(f"stopped: {', '.join(dead)}")

        return {"database": database, "broker": broker, "consumers": consumers, "workers": loops}


def create_app(
    runtime: ServiceRuntime,
    *,
    title: str,
    description: str,
    routers: Iterable[APIRouter],
    scopes: list[str],
    problems: ProblemMap | None = None,
    version: str = "0.1.0",
    lean_routes: Iterable[LeanRoute] = (),
) -> FastAPI:
    """The FastAPI application of one service, with the platform's middleware and endpoints;
    ``problems`` is the service's edge: which problem+json each of its domain errors is;
    ``lean_routes`` are the busiest routes, whose ordinary requests skip FastAPI's routing
    and dependency solving (:class:`~redress_shared.web.LeanRoutes`; inside the edge, so
    metrics, correlation ids, CORS and the body limit hold for them as for every route)."""

    @asynccontextmanager
    async def lifespan(_app: FastAPI):  # type: ignore[no-untyped-def]
        await runtime.start()
        log.info("service_started", port=runtime.settings.http_port)
        try:
            yield
        finally:
            await runtime.stop()
            log.info("service_stopped")

    # FastAPI's own docs pages load Swagger UI from a CDN; ours serve it themselves.
    app = FastAPI(
        title=title,
        description=description,
        version=version,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        swagger_ui_oauth2_redirect_url=None,
        # The platform's metrics and logs are its own (EdgeMiddleware, JSON logs); FastAPI's
        # OpenTelemetry hooks, unconfigured, still looked up the providers on every request.
        telemetry={"tracing": False, "metrics": False, "logs": False, "operation_spans": False},
    )
    app.state.runtime = runtime
    install_problem_handlers(app, problems)
    # The service's own routes first: a request is matched against the routes in order, and
    # the service's (a complaint, a case) are the ones called many times a second. No
    # platform path lies under a service's prefix, so the order decides nothing else.
    routers = list(routers)
    for router in routers:
        app.include_router(router)
    app.include_router(health_router(runtime.readiness_checks()))
    app.include_router(api_keys_router(scopes))
    app.include_router(outbox_admin_router())
    if runtime.consumers:
        app.include_router(dead_letters_router())
    app.include_router(docs_router(runtime.settings))
    _document_problems_and_examples(app, problems, routers)
    settings = runtime.settings
    lean_routes = list(lean_routes)
    if lean_routes:
        app.add_middleware(LeanRoutes, routes=lean_routes)  # added first: inside the edge
    app.add_middleware(
        EdgeMiddleware,
        max_bytes=settings.max_request_bytes,
        origins=settings.cors_allowed_origins
        if settings.cors_allowed_origins is not None
        else loopback_twins(origin_of(url) for url in settings.docs_services.values()),
    )
    return app


def _document_problems_and_examples(
    app: FastAPI, problems: ProblemMap | None, own_routers: list[APIRouter]
) -> None:
    """Make the OpenAPI document say what the service does: every error is problem+json with
    its problem types and what to do, and every request body has an example it accepts."""
    build_default = app.openapi
    own_operations = operations_of(route for router in own_routers for route in router.routes)

    def openapi() -> dict:
        if app.openapi_schema is None:
            app.openapi_schema = document_problems_and_examples(
                build_default(), problems, own_operations
            )
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


# Young objects collected every this many new objects (the default is 700): a batch of a
# thousand events, or a burst of requests, makes tens of thousands of short-lived objects.
YOUNG_COLLECTION_THRESHOLD = 10_000


def tune_garbage_collector() -> None:
    """Call once the process has loaded what it keeps (modules, tables, models): move those
    objects out of the collector's sight and collect young objects less often. Measured on
    analytics' replay of the log: the collector's passes over the long-lived objects took
    about 40 % of the consumer's CPU; with this, about a tenth (analytics README)."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_COLLECTION_THRESHOLD, middle, old)


AppBuilder = Callable[[ServiceSettings], FastAPI]
"""A service's composition root: the app (and its runtime) for some settings."""

PR_SET_PDEATHSIG = 1
WORKER_HEALTHCHECK_SECONDS = 120


def serve(build_app: AppBuilder, settings: ServiceSettings) -> None:
    """Run the service with uvicorn until SIGINT/SIGTERM, logging as JSON: in this process,
    or with ``settings.http_workers`` above one in that many worker processes that share
    one listening socket, each with its own app and runtime (uvicorn's supervisor restarts
    a worker that dies; SIGTERM stops every worker gracefully; a worker whose supervisor is
    killed is stopped by the kernel)."""
    configure_logging(settings.service_name, settings.log_level)
    if settings.http_workers <= 1:
        app = build_app(settings)
        tune_garbage_collector()
        uvicorn.Server(_uvicorn_config(app, settings)).run()
        return
    worker_app = functools.partial(_worker_app, build_app, settings, os.getpid())
    config = _uvicorn_config(
        worker_app,
        settings,
        workers=settings.http_workers,
        factory=True,
        # The supervisor pings each worker and replaces one that does not answer in time; a
        # worker answers only once it has imported the service, which on a busy machine
        # takes longer than uvicorn's 5 s (it was then replaced again and again).
        timeout_worker_healthcheck=WORKER_HEALTHCHECK_SECONDS,
    )
    listening = config.bind_socket()
    # Each start gets an empty metrics directory of its own, removed at the end: counts of
    # an earlier run must not be added to this one's (prometheus_client's multiprocess
    # mode). Set before the workers are spawned, so each imports prometheus_client with it.
    metrics_directory = tempfile.mkdtemp(prefix=f"{settings.service_name}-metrics-")
    previous = os.environ.get(MULTIPROCESS_DIRECTORY_VARIABLE)
    os.environ[MULTIPROCESS_DIRECTORY_VARIABLE] = metrics_directory
    try:
        _Supervisor(config, [listening], metrics_directory).run()
    finally:
        listening.close()
        if previous is None:
            del os.environ[MULTIPROCESS_DIRECTORY_VARIABLE]
        else:
            os.environ[MULTIPROCESS_DIRECTORY_VARIABLE] = previous
        shutil.rmtree(metrics_directory, ignore_errors=True)


class _Supervisor(Multiprocess):
    """uvicorn's supervisor, telling prometheus_client of every worker that has exited (its
    live gauges stop counting), whether it died, was replaced or was stopped."""

    def __init__(self, config: uvicorn.Config, sockets: list, metrics_directory: str) -> None:
        super().__init__(config, sockets)
        self.metrics_directory = metrics_directory

    def keep_subprocess_alive(self) -> None:
        self._marking_exited(super().keep_subprocess_alive)

    def handle_signals(self) -> None:  # SIGHUP replaces the workers, SIGTTOU stops one
        self._marking_exited(super().handle_signals)

    def join_all(self) -> None:
        super().join_all()
        for process in self.processes:
            self._mark_dead(process.pid)

    def _marking_exited(self, step: Callable[[], None]) -> None:
        before = {process.pid for process in self.processes}
        step()
        for pid in before - {process.pid for process in self.processes}:
            self._mark_dead(pid)

    def _mark_dead(self, pid: int | None) -> None:
        if pid is not None:
            mark_process_dead(pid, self.metrics_directory)


def _uvicorn_config(app: object, settings: ServiceSettings, **options: object) -> uvicorn.Config:
    return uvicorn.Config(
        app,  # type: ignore[arg-type]
        host=settings.http_host,
        port=settings.http_port,
        log_config=None,
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=10,
        **options,  # type: ignore[arg-type]
    )


def _worker_app(build_app: AppBuilder, settings: ServiceSettings, supervisor: int) -> FastAPI:
    """The app of one worker process (uvicorn's factory, called in the worker)."""
    _stop_when_parent_exits(supervisor)
    configure_logging(settings.service_name, settings.log_level)
    app = build_app(settings)
    tune_garbage_collector()
    return app


def _stop_when_parent_exits(supervisor: int) -> None:
    """Have the kernel send this worker SIGTERM (a graceful stop) when its supervisor dies,
    also by SIGKILL, so no worker outlives it and keeps the port."""
    if not sys.platform.startswith("linux"):  # prctl is Linux's
        return
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != supervisor:  # it died before the request took effect
        raise SystemExit("the supervisor has exited")


async def get_runtime(request: Request) -> ServiceRuntime:
    """FastAPI dependency: the runtime of the service handling ``request`` (a coroutine:
    FastAPI would run a plain function in a worker thread, a hop per request)."""
    return request.app.state.runtime


RuntimeDep = Annotated[ServiceRuntime, Depends(get_runtime)]
