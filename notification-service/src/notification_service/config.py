"""Notification service settings (``REDRESS_*`` environment variables)."""

from __future__ import annotations

from pydantic import Field
from redress_shared.settings import ServiceSettings


class NotificationSettings(ServiceSettings):
    """Settings of the notification service."""

    service_name: str = "notification-service"
    db_schema: str = "notification"
    http_port: int = 8003
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 1025
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_start_tls: bool = False
    smtp_timeout_seconds: float = 30.0
    mail_from: str = Field(default="Redress Customer Care <care@redress.example>")
    default_language: str = "en"
    dispatch_interval_seconds: float = 0.2
    dispatch_concurrency: int = Field(default=4, ge=1, description="Messages sent in parallel.")
    max_send_attempts: int = 8
    retry_base_seconds: float = 5.0
