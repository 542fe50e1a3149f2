"""Analytics settings (``REDRESS_*`` environment variables)."""

from __future__ import annotations

from pydantic import Field
from redress_shared.settings import ServiceSettings


class AnalyticsSettings(ServiceSettings):
    """Settings of the analytics service."""

    service_name: str = "analytics-service"
    db_schema: str = "analytics"
    http_port: int = 8004
    max_trend_buckets: int = 5000
    supplier_component_threshold: int = Field(
        default=6,
        ge=0,
        description="Alert when a supplier has more upheld component complaints a month.",
    )
    manufacturing_threshold: int = Field(
        default=4,
        ge=0,
        description="Alert when a supplier has more upheld manufacturing faults a month.",
    )
