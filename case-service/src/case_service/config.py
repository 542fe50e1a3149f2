"""Case service settings (``REDRESS_*`` environment variables)."""

from __future__ import annotations

from redress_shared.settings import ServiceSettings


class CaseSettings(ServiceSettings):
    """Settings of the case service."""

    service_name: str = "case-service"
    db_schema: str = "cases"
    http_port: int = 8002
