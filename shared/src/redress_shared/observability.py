"""JSON logs with a correlation id, Prometheus metrics and health endpoints.

With several worker processes (``REDRESS_HTTP_WORKERS``) the supervisor sets
``PROMETHEUS_MULTIPROC_DIR`` before it starts them: every worker then writes its metrics to
files there and ``/metrics`` adds up every worker's, whichever worker takes the scrape
(prometheus_client's multiprocess mode). A gauge added here must then say how the workers'
values combine (``multiprocess_mode``).
"""

from __future__ import annotations

import logging
import os
import sys
import uuid
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import TextIO

import structlog
from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector

MULTIPROCESS_DIRECTORY_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
CORRELATION_HEADER = "X-Correlation-ID"
correlation_id_var: ContextVar[str | None] = ContextVar("correlation_id", default=None)

HTTP_REQUESTS = Counter(
    "redress_http_requests_total", "HTTP requests served", ["method", "route", "status"]
)
HTTP_LATENCY = Histogram(
    "redress_http_request_duration_seconds", "HTTP request latency", ["method", "route"]
)
EVENTS_PUBLISHED = Counter("redress_events_published_total", "Events relayed to Kafka", ["topic"])
EVENTS_CONSUMED = Counter(
    "redress_events_consumed_total", "Events consumed", ["consumer", "outcome"]
)


def metrics_registry() -> CollectorRegistry:
    """What ``/metrics`` exposes: this process's metrics, or with worker processes every
    worker's, read from the shared directory (what prometheus_client's multiprocess mode
    requires: a registry of its own holding only the collector of the files)."""
    directory = os.environ.get(MULTIPROCESS_DIRECTORY_VARIABLE)
    if not directory:
        return REGISTRY
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=directory)
    return registry


def configure_logging(service_name: str, level: str = "INFO", stream: TextIO | None = None) -> None:
    """Send every log record, ours and the libraries', to ``stream`` (stdout by default) as
    one JSON object per line."""
    stream = stream or sys.stdout
    shared_processors: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.stdlib.add_logger_name,
    ]
    rendering: list[structlog.types.Processor] = [
        _add_service(service_name),
        structlog.processors.format_exc_info,
        structlog.processors.JSONRenderer(),
    ]
    # Our own lines are rendered and written by structlog directly, not handed to the
    # standard library as a record that a formatter then renders: the same JSON line for a
    # third of the CPU (its record, caller lookup and copy cost more than the line; the busy
    # services write one per complaint). The wrapper drops a call below the level before any
    # processor runs.
    structlog.configure(
        processors=[*shared_processors, *rendering],
        logger_factory=_NamedLineWriter.factory(stream),
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        cache_logger_on_first_use=True,
    )
    # The libraries' records (uvicorn, aiokafka, ...) go through the standard library.
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared_processors,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *rendering],
    )
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # httpx logs every request at INFO; the services log their own line per call.
    for noisy in ("uvicorn.access", "aiokafka", "httpx"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


class _NamedLineWriter(structlog.WriteLogger):
    """Writes each rendered line to a stream; knows the name it was asked for by
    ``structlog.get_logger(name)``, which ``add_logger_name`` puts in the line."""

    def __init__(self, name: str | None, stream: TextIO) -> None:
        super().__init__(stream)
        self.name = name

    @classmethod
    def factory(cls, stream: TextIO) -> Callable[..., _NamedLineWriter]:
        """A structlog logger factory writing to ``stream``."""
        return lambda *args: cls(args[0] if args else None, stream)


def _add_service(service_name: str) -> structlog.types.Processor:
    def processor(_logger, _name, event_dict):  # type: ignore[no-untyped-def]
        event_dict.setdefault("service", service_name)
        return event_dict

    return processor


def bind_correlation_id(correlation_id: str | None) -> str:
    """Make ``correlation_id`` (or a new one) current for logs and outgoing events."""
    value = correlation_id or uuid.uuid4().hex
    correlation_id_var.set(value)
    structlog.contextvars.bind_contextvars(correlation_id=value)
    return value


ReadinessCheck = Callable[[], Awaitable[None]]


def health_router(checks: dict[str, ReadinessCheck]) -> APIRouter:
    """``/healthz`` (the process answers), ``/readyz`` (every check passes) and ``/metrics``."""
    router = APIRouter(tags=["operations"])
    registry = metrics_registry()

    @router.get(
        "/healthz",
        summary="Liveness: the process is up",
        responses={200: {"content": {"application/json": {"example": {"status": "ok"}}}}},
    )
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get(
        "/readyz",
        summary="Readiness: database, broker and workers are usable",
        responses={
            200: {
                "content": {
                    "application/json": {
                        "example": {
                            "status": "ready",
                            "checks": {
                                "database": "ok",
                                "broker": "ok",
                                "consumers": "ok",
                                "workers": "ok",
                            },
                        }
                    }
                }
            },
            503: {"description": "At least one dependency is not ready"},
        },
    )
    async def readyz() -> JSONResponse:
        results: dict[str, str] = {}
        for name, check in checks.items():
            try:
                await check()
                results[name] = "ok"
            except Exception as exc:  # noqa: BLE001 - readiness reports every failure
                results[name] = f"failing: {exc}"
        ready = all(value == "ok" for value in results.values())
        return JSONResponse(
            {"status": "ready" if ready else "not-ready", "checks": results},
            status_code=200 if ready else 503,
        )

    @router.get("/metrics", summary="Prometheus metrics", response_class=Response)
    async def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return router
