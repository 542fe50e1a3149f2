"""Notification service settings (``REDRESS_*`` environment variables)."""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from redress_shared.settings import ServiceSettings

from notification_service.locales.model import canonical_tag, zone_named

EVENT_SOURCE = "/redress/notification-service"
"""The CloudEvents ``source`` of every event this service publishes."""


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
    smtp_pool_size: int = Field(
        default=32,
        ge=1,
        description="SMTP connections kept open and reused (at most). A send waits for the "
        "server's answer to MAIL, RCPT and DATA in turn, so throughput grows with connections "
        "(mail relays commonly allow 20-50 from one client).",
    )
    mail_from: str = Field(default="Redress Customer Care <care@redress.example>")
    default_language: str = Field(
        default="en",
        description="The desk's language: a customer whose language has no template hears "
        "from us in it (then in English). A BCP 47 tag, e.g. de or en-GB.",
    )
    default_time_zone: str = Field(
        default="UTC",
        description="The desk's IANA time zone (e.g. Europe/Bucharest): due times in customer "
        "messages are written in it when the customer's own time zone is not known.",
    )
    survey_base_url: str = Field(
        default="https://feedback.redress.example/survey",
        description="Link sent after closure; the case reference is appended.",
    )
    dispatch_interval_seconds: float = Field(
        default=1.0,
        gt=0,
        description="How often the message dispatcher looks for due messages it was not told "
        "of (another replica's, a claim that expired); this process's own new messages and "
        "retries wake it at once or when they fall due.",
    )
    dispatch_concurrency: int = Field(
        default=256,
        ge=1,
        description="Messages in flight per process (each claimed, then sent with no "
        "transaction open); they share the SMTP pool. One short transaction records the "
        "sends that finished and claims the next: the more in flight, the more each of those "
        "carries, so a busy database's latency does not cap the rate.",
    )
    message_claim_seconds: float = Field(
        default=120.0,
        gt=0,
        description="How long a dispatcher's claim on a message lasts; a send is cut at half "
        "of it, and a claim left by a process that died is taken again after it.",
    )
    max_send_attempts: int = 8
    retry_base_seconds: float = 5.0
    # Customer messages: channels, quiet collapse, follow-ups
    message_gateway_url: str | None = Field(
        default=None,
        description="HTTP gateway for SMS, chat and social replies; unset: e-mail only.",
    )
    message_gateway_token: SecretStr | None = Field(
        default=None, description="Bearer token sent to the message gateway."
    )
    message_gateway_timeout_seconds: float = Field(default=10.0, gt=0)
    channel_fallback_order: list[Literal["email", "sms", "chat", "social"]] = Field(
        default=["email", "sms", "chat", "social"],
        description="Channels tried after the customer's preferred one, in this order.",
    )
    status_quiet_window: timedelta = Field(
        default=timedelta(minutes=2),
        description="Status messages wait this long; later status changes of the case within "
        "it replace them, so a burst goes out as one message. 0 sends each at once.",
    )
    follow_up_after: timedelta = Field(
        default=timedelta(days=7),
        description="How long after a resolution the customer is asked whether the fix held.",
    )
    follow_up_poll_interval_seconds: float = Field(default=5.0, gt=0)
    breach_new_time_after: timedelta = Field(
        default=timedelta(days=2),
        description="The new time promised in a breach apology when the event carries none.",
    )
    # Webhooks
    webhook_allow_private_networks: bool = Field(
        default=False,
        description="Allow webhook URLs on loopback/private networks (local development, tests).",
    )
    webhook_timeout_seconds: float = Field(default=10.0, gt=0, description="Per delivery attempt.")
    webhook_dispatch_concurrency: int = Field(
        default=64, ge=1, description="Webhook deliveries in flight per process."
    )
    webhook_endpoint_concurrency: int = Field(
        default=8, ge=1, description="Deliveries in flight to one endpoint (across replicas)."
    )
    webhook_dispatch_interval_seconds: float = Field(
        default=1.0,
        gt=0,
        description="How often the webhook dispatcher looks for due deliveries it was not told "
        "of (retries, another replica's, a claim that expired); this process's new "
        "deliveries wake it at once.",
    )
    webhook_retry_base_seconds: float = Field(
        default=5.0, gt=0, description="First retry delay; doubles per attempt, with jitter."
    )
    webhook_retry_max_delay_seconds: float = Field(
        default=21_600.0, gt=0, description="Longest wait between attempts (Retry-After too)."
    )
    webhook_max_attempts: int = Field(
        default=16, ge=1, description="Attempts before a delivery fails (about a day by default)."
    )
    webhook_disable_after_seconds: float = Field(
        default=432_000.0,
        gt=0,
        description=(
            "An endpoint whose attempts all fail for this long (5 days by default; no success "
            "in between) is disabled and its owner notified by event."
        ),
    )
    webhook_secret_rotation_overlap_seconds: float = Field(
        default=86_400.0, ge=0, description="How long the old secret still signs after rotation."
    )
    webhook_secrets_key: SecretStr | None = Field(
        default=None,
        description="Key that encrypts signing secrets at rest; defaults to the admin API key.",
    )

    @field_validator("default_language")
    @classmethod
    def _language_tag(cls, value: str) -> str:
        tag = canonical_tag(value)
        if not tag:
            raise ValueError(f"{value!r} is not a language tag")
        return tag

    @field_validator("default_time_zone")
    @classmethod
    def _known_time_zone(cls, value: str) -> str:
        if zone_named(value) is None:
            raise ValueError(f"{value!r} is not an IANA time zone")
        return value
