"""Analytics settings (``REDRESS_*`` environment variables)."""

from __future__ import annotations

from redress_shared.settings import ServiceSettings


class AnalyticsSettings(ServiceSettings):
    """Settings of the analytics service."""

    service_name: str = "analytics-service"
    db_schema: str = "analytics"
    http_port: int = 8004
    max_trend_buckets: int = 5000
