"""Request and response bodies of the webhook API."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from notification_service.webhooks.model import (
    MAX_FILTER_PATTERNS,
    MAX_PATTERN_LENGTH,
    InvalidFilter,
    delivery_message_id,
    validate_filter,
)

_WEBHOOK_ID = "3f1c2b8e-5d4a-4c6b-9e7f-1a2b3c4d5e6f"
_WEBHOOK_EXAMPLE = {
    "id": _WEBHOOK_ID,
    "url": "https://crm.example.com/hooks/redress",
    "event_types": ["redress.case.*"],
    "description": "CRM: keep case status in sync",
    "enabled": True,
    "disabled_reason": None,
    "disabled_at": None,
    "failing_since": None,
    "consecutive_failures": 0,
    "owner_key_id": "5b0c6a52-1f3e-4d7a-9c2b-8e4f6a1d2c3b",
    "previous_secret_valid_until": None,
    "created_at": "2026-11-23T10:00:00Z",
    "updated_at": "2026-11-23T10:00:00Z",
}
_SECRET_EXAMPLE = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwMfKQ9r8GKYo="

EventTypesField = Field(
    min_length=1,
    max_length=MAX_FILTER_PATTERNS,
    description=(
        "Event types to receive. A pattern is `*` or dot-separated segments starting with "
        "`redress`; a `*` segment matches one segment, or in last position one or more "
        "(`redress.case.*` = every case event)."
    ),
    examples=[["redress.case.*"]],
)


def _check_filter(patterns: list[str] | None) -> list[str] | None:
    if patterns is None:
        raise ValueError("may not be null")
    try:
        return validate_filter(patterns)
    except InvalidFilter as exc:
        raise ValueError(str(exc)) from exc


class WebhookCreate(BaseModel):
    """A new webhook subscription."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "url": "https://crm.example.com/hooks/redress",
                    "event_types": ["redress.case.*"],
                    "description": "CRM: keep case status in sync",
                    "enabled": True,
                }
            ]
        },
    )

    url: str = Field(
        min_length=1,
        max_length=2048,
        description="http(s) URL that must resolve to public addresses only.",
        examples=["https://crm.example.com/hooks/redress"],
    )
    event_types: list[Annotated[str, Field(max_length=MAX_PATTERN_LENGTH)]] = EventTypesField
    description: str = Field(default="", max_length=500, examples=["CRM sync"])
    enabled: bool = Field(default=True, examples=[True])

    _filter = field_validator("event_types")(_check_filter)


class WebhookUpdate(BaseModel):
    """Fields to change; those left out stay as they are."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"event_types": ["redress.case.opened.v1"], "enabled": False}]
        },
    )

    url: str | None = Field(
        default=None, min_length=1, max_length=2048, examples=["https://crm.example.com/hooks/v2"]
    )
    event_types: list[Annotated[str, Field(max_length=MAX_PATTERN_LENGTH)]] | None = Field(
        default=None, min_length=1, max_length=MAX_FILTER_PATTERNS, examples=[["redress.case.*"]]
    )
    description: str | None = Field(default=None, max_length=500, examples=["CRM sync (v2)"])
    enabled: bool | None = Field(default=None, examples=[False])

    _filter = field_validator("event_types")(_check_filter)

    @field_validator("url", "description", "enabled")
    @classmethod
    def _not_null(cls, value: object) -> object:
        if value is None:
            raise ValueError("may not be null; leave the field out to keep it")
        return value


class WebhookRead(BaseModel):
    """A webhook subscription (never with its secret)."""

    model_config = ConfigDict(json_schema_extra={"examples": [_WEBHOOK_EXAMPLE]})

    id: uuid.UUID
    url: str
    event_types: list[str]
    description: str
    enabled: bool
    disabled_reason: str | None = Field(
        default=None, examples=["the endpoint answered 410 Gone"], description="Why it is off."
    )
    disabled_at: datetime | None = Field(default=None, description="When it was switched off.")
    failing_since: datetime | None = Field(
        default=None,
        description=(
            "First failed attempt since the last success (or re-enable); when every attempt "
            "has failed for the configured period (5 days by default) the webhook is disabled "
            "and `redress.notification.webhook_disabled.v1` tells its owner."
        ),
    )
    consecutive_failures: int = Field(default=0, description="Failed attempts since a success.")
    owner_key_id: uuid.UUID | None = Field(
        default=None, description="The API key that created it (told when it is disabled)."
    )
    previous_secret_valid_until: datetime | None = Field(
        default=None, description="Until when the secret before the last rotation still signs."
    )
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: Any) -> WebhookRead:
        """Build from a subscription row."""
        return cls(
            **{k: v for k, v in row._mapping.items() if k in cls.model_fields},
            previous_secret_valid_until=row.previous_secret_expires_at,
        )


class WebhookWithSecretRead(WebhookRead):
    """The answer to creating a webhook: the only time its signing secret is shown."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{**_WEBHOOK_EXAMPLE, "secret": _SECRET_EXAMPLE}]}
    )

    secret: str = Field(
        description="Standard Webhooks signing secret (`whsec_` + base64); shown only now.",
        examples=[_SECRET_EXAMPLE],
    )


class WebhookSecretRead(BaseModel):
    """The new signing secret; the previous one keeps signing until the time given."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": _WEBHOOK_ID,
                    "secret": _SECRET_EXAMPLE,
                    "previous_secret_valid_until": "2026-11-24T10:00:00Z",
                }
            ]
        }
    )

    id: uuid.UUID
    secret: str
    previous_secret_valid_until: datetime | None


class DeliveryAttemptRead(BaseModel):
    """One HTTP attempt of a delivery."""

    model_config = ConfigDict(from_attributes=True)

    attempted_at: datetime = Field(examples=["2026-11-23T10:00:01Z"])
    status_code: int | None = Field(examples=[500], description="None if no answer came.")
    latency_ms: int = Field(examples=[42])
    response_excerpt: str | None = Field(
        examples=["Internal Server Error"], description="At most 1 KB of the response body."
    )
    error: str | None = Field(examples=["HTTP 500"])
    outcome: str = Field(examples=["retry"], description="delivered | retry | failed")


class DeliveryRead(BaseModel):
    """One event's delivery to one webhook, with every attempt."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "b7e2f0c4-1d3a-4f5e-8a9b-0c1d2e3f4a5b",
                    "webhook_id": _WEBHOOK_ID,
                    "message_id": "msg_b7e2f0c41d3a4f5e8a9b0c1d2e3f4a5b",
                    "event_id": "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
                    "event_type": "redress.case.opened.v1",
                    "status": "delivered",
                    "attempts": 2,
                    "next_attempt_at": "2026-11-23T10:00:06Z",
                    "last_status_code": 200,
                    "last_error": None,
                    "created_at": "2026-11-23T10:00:00Z",
                    "delivered_at": "2026-11-23T10:00:06Z",
                    "attempt_log": [
                        {
                            "attempted_at": "2026-11-23T10:00:00Z",
                            "status_code": 500,
                            "latency_ms": 31,
                            "response_excerpt": "Internal Server Error",
                            "error": "HTTP 500",
                            "outcome": "retry",
                        },
                        {
                            "attempted_at": "2026-11-23T10:00:06Z",
                            "status_code": 200,
                            "latency_ms": 12,
                            "response_excerpt": "ok",
                            "error": None,
                            "outcome": "delivered",
                        },
                    ],
                }
            ]
        }
    )

    id: uuid.UUID
    webhook_id: uuid.UUID
    message_id: str = Field(description="The `webhook-id` header; the same on every attempt.")
    event_id: uuid.UUID
    event_type: str
    status: str = Field(description="pending | delivered | failed")
    attempts: int = Field(description="Attempts since the delivery was (re)queued.")
    next_attempt_at: datetime
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None
    attempt_log: list[DeliveryAttemptRead]

    @classmethod
    def of(cls, row: Any, attempts: list[Any]) -> DeliveryRead:
        """Build from a delivery row and its attempt rows."""
        values = {k: v for k, v in row._mapping.items() if k in cls.model_fields}
        return cls(
            **values,
            webhook_id=row.subscription_id,
            message_id=delivery_message_id(row.id),
            attempt_log=[DeliveryAttemptRead.model_validate(a) for a in attempts],
        )


class ReplayCreate(BaseModel):
    """Which deliveries of a webhook to send again."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "since": "2026-11-23T00:00:00Z",
                    "until": "2026-11-24T00:00:00Z",
                    "only_failed": True,
                }
            ]
        },
    )

    since: datetime = Field(description="Deliveries created at or after this time (with zone).")
    until: datetime = Field(description="... and before this time.")
    only_failed: bool = Field(default=False, description="Only those that finally failed.")

    @field_validator("since", "until")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("give a time zone, e.g. 2026-11-23T00:00:00Z")
        return value


class ReplayRead(BaseModel):
    """How many deliveries were queued again."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"queued": 12}]})

    queued: int
