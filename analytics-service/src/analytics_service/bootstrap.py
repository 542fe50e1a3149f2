"""Composition root of the analytics service."""

from __future__ import annotations

from fastapi import FastAPI
from redress_shared.clock import Clock
from redress_shared.runtime import ServiceRuntime, create_app

from analytics_service import consumers, tables
from analytics_service.api import PROBLEMS, ROUTERS, SCOPES
from analytics_service.config import AnalyticsSettings


def build_app(settings: AnalyticsSettings | None = None, clock: Clock | None = None) -> FastAPI:
    """The analytics application with its runtime (nothing connects until it starts)."""
    settings = settings or AnalyticsSettings()
    runtime = ServiceRuntime.build(settings, tables.platform, clock)
    runtime.add_consumer(
        consumers.GROUP_ID,
        consumers.TOPICS,
        consumers.handlers(settings, runtime.clock),
        batch_handler=consumers.batch_handler(settings, runtime.clock),
    )
    return create_app(
        runtime,
        title="Redress analytics service",
        description=(
            "Turns the event log into figures: complaint trends by category, channel, product, "
            "supplier, language and priority. Facts are upserted per complaint and case, so "
            "figures are exact under redelivery and rebuildable by replay."
        ),
        routers=ROUTERS,
        scopes=SCOPES,
        problems=PROBLEMS,
    )
