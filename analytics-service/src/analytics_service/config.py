"""Analytics settings (``REDRESS_*`` environment variables)."""

from __future__ import annotations

from pydantic import Field
from redress_shared.settings import ServiceSettings


class AnalyticsSettings(ServiceSettings):
    """Settings of the analytics service."""

    service_name: str = "analytics-service"
    db_schema: str = "analytics"
    http_port: int = 8004
    # Figures need no sub-second freshness, so the consumer takes what a quarter second
    # brings in one transaction: a fetch waits for a megabyte or 250 ms instead of answering
    # with the first few records, and the fixed cost of a batch (its fetch, transaction and
    # statements) is paid a few times a second whatever the rate (measured: see the README).
    kafka_fetch_max_wait_ms: int = 250
    kafka_fetch_min_bytes: int = 1024 * 1024
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
    incident_window_minutes: int = Field(
        default=60, gt=0, le=10_080, description="W: how short a window a spike is counted in."
    )
    incident_baseline_days: int = Field(
        default=7, gt=0, le=365, description="D: how far back the baseline rate is measured."
    )
    incident_factor: float = Field(
        default=4.0, ge=1.0, description="k: a spike holds k times the baseline's count."
    )
    incident_min_count: int = Field(
        default=5, ge=2, description="A spike holds at least this many complaints."
    )
    incident_false_alarm_probability: float = Field(
        default=1e-5,
        gt=0,
        lt=1,
        description="Largest chance that a window of a steady background is taken for a spike.",
    )
    satisfaction_min_answers: int = Field(
        default=10,
        ge=1,
        description="Would-recommend/continue shares are flagged only on this many answers.",
    )


EVENT_SOURCE = "/redress/analytics-service"
"""The CloudEvents ``source`` of every event this service publishes."""
