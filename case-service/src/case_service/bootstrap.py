"""Composition root of the case service."""

from __future__ import annotations

from fastapi import FastAPI
from redress_shared.clock import Clock
from redress_shared.runtime import ServiceRuntime, create_app

from case_service import consumers, tables, workers
from case_service.api import PROBLEMS, ROUTERS, SCOPES
from case_service.config import CaseSettings


def build_app(settings: CaseSettings | None = None, clock: Clock | None = None) -> FastAPI:
    """The case application with its runtime (nothing connects until it starts)."""
    settings = settings or CaseSettings()
    runtime = ServiceRuntime.build(settings, tables.platform, clock)
    runtime.add_consumer(
        consumers.GROUP_ID,
        consumers.TOPICS,
        consumers.handlers(runtime.clock),
        batch_handler=consumers.batch_handler(runtime.clock),
    )
    runtime.add_background("sla-timers", workers.deadline_timers(runtime))
    return create_app(
        runtime,
        title="Redress case service",
        description=(
            "Owns every complaint's case: status, priority, SLA deadlines and an append-only "
            "history. Opens a case for each `redress.complaint.received.v1` and publishes "
            "`redress.case.opened.v1`."
        ),
        routers=ROUTERS,
        scopes=SCOPES,
        problems=PROBLEMS,
    )
