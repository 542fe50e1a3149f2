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

    intake_max_event_text_bytes: int = Field(
        default=64 * 1024,
        ge=1024,
        description="Largest text (UTF-8 bytes) of one field in an event (body, subject, "
        "each context value); a longer one is truncated in the event with a pointer to the "
        "API, which keeps the full text.",
    )
    intake_max_event_bytes: int = Field(
        default=512 * 1024,
        ge=16 * 1024,
        description="Largest Kafka record (key, value and headers) intake publishes; below "
        "the producer's max_request_size (1 MiB) and the broker's message limit.",
    )
    intake_max_header_bytes: int = Field(
        default=256 * 1024,
        description="Largest header block of an e-mail (and of each part); over it the "
        "stored message is quarantined unparsed.",
    )
    intake_max_mime_parts: int = Field(
        default=1000, description="Most MIME parts in one e-mail; over it: quarantined."
    )
    intake_max_mime_depth: int = Field(
        default=20,
        description="Deepest nesting of multiparts and enclosed (forwarded) messages in one "
        "e-mail; over it: quarantined.",
    )
    intake_max_text_bytes: int = Field(
        default=2 * 1024 * 1024,
        description="Largest decoded text or HTML body part of an e-mail; over it: quarantined.",
    )
    intake_parse_time_limit_seconds: float = Field(
        default=10.0,
        gt=0,
        description="Time limit of parsing one e-mail and of enriching one complaint, each in "
        "a worker thread: an e-mail over it is quarantined, an enrichment over it is skipped "
        "with a note.",
    )

    intake_rules_refresh_seconds: float = Field(
        default=5.0,
        gt=0,
        description="How often each replica checks whether a desk changed the classification "
        "rules (one small query); a change applies to its complaints within this interval.",
    )
    intake_submission_writers: int = Field(
        default=2,
        ge=1,
        description="JSON-channel submissions are committed in batches (a group commit): "
        "how many batches may be written at once, each on its own connection.",
    )
    intake_submission_batch_max: int = Field(
        default=100, ge=1, description="Most submissions committed in one batch."
    )

    def policy(self) -> IntakePolicy:
        """The limits and windows the use cases apply."""
        return IntakePolicy(
            duplicate_window=timedelta(seconds=self.intake_duplicate_window_seconds),
            max_attachment_bytes=self.intake_max_attachment_bytes,
            max_event_text_bytes=self.intake_max_event_text_bytes,
            max_event_bytes=self.intake_max_event_bytes,
            mime=MimeLimits(
                max_header_bytes=self.intake_max_header_bytes,
                max_parts=self.intake_max_mime_parts,
                max_depth=self.intake_max_mime_depth,
                max_text_bytes=self.intake_max_text_bytes,
            ),
            parse_time_limit=self.intake_parse_time_limit_seconds,
        )


@dataclass(frozen=True)
class MimeLimits:
    """How much structure one e-mail may have before it is parsed (see the README)."""

    max_header_bytes: int = 256 * 1024
    max_parts: int = 1000
    max_depth: int = 20
    max_text_bytes: int = 2 * 1024 * 1024


@dataclass(frozen=True)
class IntakePolicy:
    """Configurable rules of intake, handed to the use cases."""

    duplicate_window: timedelta = timedelta(hours=24)
    max_attachment_bytes: int = 5 * 1024 * 1024
    max_event_text_bytes: int = 64 * 1024
    max_event_bytes: int = 512 * 1024
    mime: MimeLimits = MimeLimits()
    parse_time_limit: float = 10.0


DEFAULT_POLICY = IntakePolicy()
"""The policy of the default settings."""
