"""Composition root of the case service."""

from __future__ import annotations

import asyncio

from fastapi import FastAPI
from redress_shared.clock import Clock
from redress_shared.runtime import ServiceRuntime, create_app

from case_service import (
    capa_api,
    commitments,
    consumers,
    customers_api,
    outcomes_api,
    routing_api,
    sla,
    sla_api,
    tables,
)
from case_service.api import SCOPES, router
from case_service.config import CaseSettings


def build_app(settings: CaseSettings | None = None, clock: Clock | None = None) -> FastAPI:
    """The case application with its runtime (nothing connects until it starts)."""
    settings = settings or CaseSettings()
    runtime = ServiceRuntime.build(settings, tables.platform, clock)
    runtime.add_consumer(consumers.GROUP_ID, consumers.TOPICS, consumers.handlers(runtime.clock))

    async def fire_timers_forever() -> None:
        while True:
            fired = await sla.fire_due_timers(runtime.session_factory, runtime.clock)
            fired += await commitments.fire_missed_commitments(
                runtime.session_factory, runtime.clock
            )
            if fired:
                runtime.relay.notify()
            else:
                await asyncio.sleep(settings.sla_timer_interval_seconds)

    runtime.add_background("sla-timers", fire_timers_forever)
    return create_app(
        runtime,
        title="Redress case service",
        description=(
            "Owns every complaint's case: status, priority, SLA deadlines and an append-only "
            "history. Opens a case for each `redress.complaint.received.v1` and publishes "
            "`redress.case.opened.v1`."
        ),
        routers=[
            router,
            outcomes_api.router,
            sla_api.router,
            capa_api.router,
            routing_api.router,
            customers_api.router,
        ],
        scopes=[
            *SCOPES,
            sla_api.SLA_WRITE_SCOPE,
            outcomes_api.APPROVE_SCOPE,
            capa_api.CAPA_WRITE_SCOPE,
            routing_api.ROUTING_WRITE_SCOPE,
        ],
    )
