"""The HTTP edge of the analytics service: its routers, its scopes, and which problem+json
each domain error is."""

from __future__ import annotations

from redress_shared.errors import ProblemMap, ProblemType

from analytics_service.alerts.api import alerts_router
from analytics_service.dashboard.api import dashboard_router
from analytics_service.figures.api import figures_router
from analytics_service.reporting.model import InvalidRange, UnknownTimeZone
from analytics_service.reporting.schemas import SCOPES
from analytics_service.trends.api import trends_router

ROUTERS = [trends_router, alerts_router, figures_router, dashboard_router]

PROBLEMS: ProblemMap = {
    UnknownTimeZone: ProblemType(422, "unknown-time-zone", "Unknown time zone"),
    InvalidRange: ProblemType(422, "invalid-range", "The time range is not valid"),
}

__all__ = ["PROBLEMS", "ROUTERS", "SCOPES"]
