"""Intake settings (``REDRESS_*`` environment variables)."""

from __future__ import annotations

from pydantic import Field
from redress_shared.settings import ServiceSettings


class IntakeSettings(ServiceSettings):
    """Settings of the intake service."""

    service_name: str = "intake-service"
    db_schema: str = "intake"
    http_port: int = 8001
    intake_smtp_host: str = "127.0.0.1"
    intake_smtp_port: int = Field(default=2525, description="SMTP listener; 0 disables it.")
    intake_smtp_max_message_bytes: int = 10 * 1024 * 1024
