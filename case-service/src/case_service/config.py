"""Case service settings (``REDRESS_*`` environment variables)."""

from __future__ import annotations

from decimal import Decimal

from pydantic import Field
from redress_shared.settings import ServiceSettings

EVENT_SOURCE = "/redress/case-service"
"""The CloudEvents ``source`` of every event this service publishes."""


class CaseSettings(ServiceSettings):
    """Settings of the case service."""

    service_name: str = "case-service"
    db_schema: str = "cases"
    http_port: int = 8002
    sla_timer_interval_seconds: float = Field(
        default=1.0, gt=0, description="How often due SLA warnings and breaches are looked for."
    )
    remedy_approval_threshold: Decimal = Field(
        default=Decimal("100"), ge=0, description="Remedies worth more need a team lead's approval."
    )
    frequent_complainer_threshold: int = Field(
        default=3, ge=1, description="Complaints in the window that flag a frequent complainer."
    )
    frequent_complainer_window_days: int = Field(default=90, ge=1)
    reopen_window_days: int = Field(
        default=14, ge=0, description="How long after closing a case may be reopened."
    )
    duplicate_window_days: int = Field(
        default=14,
        ge=0,
        description="How far apart (by receipt) a customer's cases may be to be suggested as "
        "duplicates of each other.",
    )
    duplicate_similarity_threshold: float = Field(
        default=0.7,
        gt=0,
        le=1,
        description="Token-set similarity (0..1) of subject and body from which another case "
        "of the same customer is suggested as a likely duplicate.",
    )
