"""Intake settings (``REDRESS_*`` environment variables)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from pydantic import Field
from redress_shared.settings import ServiceSettings

EVENT_SOURCE = "/redress/intake-service"
"""The CloudEvents ``source`` of every event intake publishes."""


class IntakeSettings(ServiceSettings):
    """Settings of the intake service."""

    service_name: str = "intake-service"
    db_schema: str = "intake"
    http_port: int = 8001
    intake_smtp_host: str = "127.0.0.1"
    intake_smtp_port: int = Field(default=2525, description="SMTP listener; 0 disables it.")
    intake_smtp_max_message_bytes: int = Field(
        default=10 * 1024 * 1024,
        description="Largest e-mail the SMTP listener accepts (552 above). Over HTTP the "
        "message is bounded by max_request_bytes (413 above).",
    )
    intake_max_attachment_bytes: int = Field(
        default=5 * 1024 * 1024,
        description="Largest single attachment (decoded bytes): 413 over HTTP, 552 over SMTP.",
    )
    intake_duplicate_window_seconds: int = Field(
        default=24 * 3600,
        description="The same customer with the same text within this many seconds is one "
        "complaint delivered twice; 0 turns content-fingerprint deduplication off.",
    )

    def policy(self) -> IntakePolicy:
        """The limits and windows the use cases apply."""
        return IntakePolicy(
            duplicate_window=timedelta(seconds=self.intake_duplicate_window_seconds),
            max_attachment_bytes=self.intake_max_attachment_bytes,
        )


@dataclass(frozen=True)
class IntakePolicy:
    """Configurable rules of intake, handed to the use cases."""

    duplicate_window: timedelta = timedelta(hours=24)
    max_attachment_bytes: int = 5 * 1024 * 1024


DEFAULT_POLICY = IntakePolicy()
"""The policy of the default settings."""
