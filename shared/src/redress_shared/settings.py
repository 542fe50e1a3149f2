"""Settings shared by every Redress service, read from ``REDRESS_*`` environment variables."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX = "REDRESS_"

LOCAL_SERVICES = {
    "intake-service": "http://127.0.0.1:8001",
    "case-service": "http://127.0.0.1:8002",
    "notification-service": "http://127.0.0.1:8003",
    "analytics-service": "http://127.0.0.1:8004",
}
"""Where the local stack's services are by default (the stack runner's catalog agrees)."""


class ServiceSettings(BaseSettings):
    """Settings every service reads; each service subclasses it for its own options.

    All values come from the environment with the ``REDRESS_`` prefix, e.g.
    ``REDRESS_DATABASE_URL``; the stack runner sets them for local runs.
    """

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore")

    service_name: str = "redress"
    db_schema: str = Field(default="public", description="PostgreSQL schema this service owns.")
    http_host: str = "127.0.0.1"
    http_port: int = 8000
    http_workers: int = Field(
        default=1,
        ge=1,
        description="Processes serving HTTP on the one port, each with its own connection "
        "pool, producer and background loops (the outbox relay stays one active leader).",
    )
    database_url: str = Field(
        default="postgresql+asyncpg://postgres@127.0.0.1:5432/redress",
        description="SQLAlchemy URL of the PostgreSQL database (asyncpg driver).",
    )
    db_pool_size: int = 10
    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    kafka_enable_idempotence: bool = Field(
        default=False,
        description="Idempotent producer; Tansu does not support it, Apache Kafka does.",
    )
    kafka_client_id_prefix: str = "redress"
    kafka_fetch_max_wait_ms: int = 100
    kafka_fetch_min_bytes: int = Field(
        default=1,
        description="A live consumer's fetch waits (up to `kafka_fetch_max_wait_ms`) until this "
        "many bytes are there: larger batches, fewer transactions, for consumers that can wait.",
    )
    admin_api_key: SecretStr | None = Field(
        default=None, description="Admin API key seeded (hashed) into the service on start."
    )
    api_key_cache_seconds: float = Field(
        default=10.0, description="How long a verified API key is trusted without a lookup."
    )
    log_level: str = "INFO"
    max_request_bytes: int = Field(
        default=1_048_576, description="Largest accepted request body in bytes (413 above)."
    )
    outbox_poll_interval_seconds: float = Field(
        default=1.0,
        gt=0,
        description="How long an idle outbox relay waits before it looks at the outbox unasked. "
        "A commit that writes the outbox wakes the relay at once, in its own process directly "
        "and in every other process through PostgreSQL's LISTEN/NOTIFY; the poll is the safety "
        "net for a wake-up lost while the listening connection was down.",
    )
    outbox_retention_seconds: float = Field(
        default=7 * 24 * 3600.0,
        description="How long a published outbox row is kept (for inspection and re-publication) "
        "before the retention loop deletes it; 0 keeps every row (the stack runner's embedded "
        "broker keeps nothing, so there the outbox is the log of record). Parked and "
        "unpublished rows are never deleted.",
    )
    inbox_retention_seconds: float = Field(
        default=30 * 24 * 3600.0,
        description="How long a processed event id is remembered. Must outlast the broker's "
        "retention (Kafka's default is 7 days), or an event still on the broker could be "
        "applied twice after its id was forgotten; 0 keeps every id.",
    )
    retention_interval_seconds: float = Field(
        default=600.0, description="How often the retention loop deletes expired rows."
    )
    consumer_max_retries: int = 5
    consumer_retry_backoff_seconds: float = 0.2
    consumer_fault_backoff_max_seconds: float = Field(
        default=10.0,
        description="Longest pause between attempts while the database or broker is failing; "
        "such faults pause the partition and are retried for as long as they last (never "
        "dead-lettered).",
    )
    docs_services: dict[str, str] = Field(
        default_factory=lambda: dict(LOCAL_SERVICES),
        description="The services the API front door (`/docs/all`) shows, by name, at the base "
        "URL a person's browser reaches them on (JSON, e.g. "
        '`{"intake-service": "https://intake.example.com"}`).',
    )
    cors_allowed_origins: list[str] | None = Field(
        default=None,
        description="Origins whose pages may call this API from a browser (the front door on "
        "another service); default: the origins of `docs_services`, under both loopback names.",
    )
    docs_asyncapi_file: Path | None = Field(
        default=None,
        description="The complete AsyncAPI document to serve at `/docs/events/asyncapi.json` "
        "(the stack runner writes one); without it the topics and messages are served.",
    )
    test_clock_file: Path | None = Field(
        default=None,
        description="Tests only: a file holding a time offset in seconds that moves this "
        "service's clock (end-to-end tests of deadlines over real processes). Never set it "
        "in production.",
    )
