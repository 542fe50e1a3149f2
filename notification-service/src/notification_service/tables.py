"""Notification service tables (schema ``notification``)."""

from __future__ import annotations

from redress_shared.db import PlatformTables
from sqlalchemy import (
    ARRAY,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    MetaData,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import UUID

SCHEMA = "notification"
metadata = MetaData(schema=SCHEMA)
platform = PlatformTables(metadata)

notifications = Table(
    "notifications",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("case_id", UUID(as_uuid=True), nullable=False),
    Column("reference", Text, nullable=False),
    Column("trigger_event_id", UUID(as_uuid=True), nullable=False),
    Column("template", Text, nullable=False),
    Column("language", Text, nullable=False),
    Column("channel", Text, nullable=False),
    Column("recipient", Text, nullable=False),
    Column("subject", Text, nullable=False),
    Column("body_text", Text, nullable=False),
    Column("message_id", Text, nullable=False),
    Column("status", Text, nullable=False, comment="pending | sent | failed | collapsed"),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False),
    Column("last_error", Text),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("sent_at", DateTime(timezone=True)),
    Column("correlation_id", Text, comment="carried from the triggering event to the outcome"),
    Column("template_version", Integer, comment="the template version it was rendered from"),
    Column("body_html", Text),
    Column(
        "fallback_channels",
        ARRAY(Text),
        nullable=False,
        server_default="{}",
        comment="channel:recipient still to try, in order, if the current one fails for good",
    ),
    Column("collapsed_into", UUID(as_uuid=True), comment="the later status message that said it"),
    Column("claim_id", UUID(as_uuid=True), comment="the dispatcher claim it is being sent under"),
    Column("claimed_until", DateTime(timezone=True), comment="the claim expires (taken again)"),
    # One message per triggering event and template, however often the event arrives.
    UniqueConstraint("trigger_event_id", "template", name="uq_notifications_trigger_template"),
    Index("ix_notifications_case_id", "case_id"),
    # What a dispatcher may claim (pending, not claimed), and the claims open (one whose
    # process died is taken again once it expires).
    Index(
        "ix_notifications_ready",
        "next_attempt_at",
        postgresql_where=text("status = 'pending' AND claim_id IS NULL"),
    ),
    Index(
        "ix_notifications_claimed",
        "claimed_until",
        postgresql_where=text("status = 'pending' AND claim_id IS NOT NULL"),
    ),
)

webhook_subscriptions = Table(
    "webhook_subscriptions",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("url", Text, nullable=False),
    Column(
        "event_types", ARRAY(Text), nullable=False, comment="filter patterns, e.g. redress.case.*"
    ),
    Column("description", Text, nullable=False, server_default=""),
    Column("enabled", Boolean, nullable=False, server_default=text("true")),
    Column("disabled_reason", Text),
    Column("disabled_at", DateTime(timezone=True)),
    Column("owner_key_id", UUID(as_uuid=True), comment="API key that created it; told on disable"),
    Column(
        "failing_since",
        DateTime(timezone=True),
        comment="first failed attempt since the last success or re-enable",
    ),
    Column("consecutive_failures", Integer, nullable=False, server_default="0"),
    Column("secret_sealed", Text, nullable=False, comment="AES-GCM sealed whsec_ secret"),
    Column("previous_secret_sealed", Text, comment="the secret before the last rotation"),
    Column("previous_secret_expires_at", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True, comment="also the webhook-id header"),
    Column(
        "subscription_id",
        UUID(as_uuid=True),
        ForeignKey("webhook_subscriptions.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("event_id", UUID(as_uuid=True), nullable=False),
    Column("event_type", Text, nullable=False),
    Column("body", Text, nullable=False, comment="the exact JSON body that is signed and sent"),
    Column("status", Text, nullable=False, comment="pending | delivered | failed"),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False),
    Column("last_status_code", Integer),
    Column("last_error", Text),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("delivered_at", DateTime(timezone=True)),
    Column("correlation_id", Text),
    Column("claim_id", UUID(as_uuid=True), comment="the dispatcher claim it is being sent under"),
    Column("claimed_until", DateTime(timezone=True), comment="the claim expires (taken again)"),
    # One delivery per subscription and event, however often the event arrives.
    UniqueConstraint(
        "subscription_id", "event_id", name="uq_webhook_deliveries_subscription_event"
    ),
    Index(
        "ix_webhook_deliveries_due",
        "next_attempt_at",
        postgresql_where=text("status = 'pending'"),
    ),
    Index("ix_webhook_deliveries_subscription", "subscription_id", "created_at"),
    Index(
        "ix_webhook_deliveries_claimed",
        "subscription_id",
        postgresql_where=text("claim_id IS NOT NULL"),
    ),
)

webhook_attempts = Table(
    "webhook_attempts",
    metadata,
    Column("id", BigInteger, Identity(always=True), primary_key=True),
    Column(
        "delivery_id",
        UUID(as_uuid=True),
        ForeignKey("webhook_deliveries.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("attempted_at", DateTime(timezone=True), nullable=False),
    Column("status_code", Integer),
    Column("latency_ms", Integer, nullable=False),
    Column("response_excerpt", Text, comment="at most 1 KB of the response body"),
    Column("error", Text),
    Column("outcome", Text, nullable=False, comment="delivered | retry | failed"),
    Index("ix_webhook_attempts_delivery", "delivery_id", "id"),
)

case_contacts = Table(
    "case_contacts",
    metadata,
    Column("case_id", UUID(as_uuid=True), primary_key=True),
    Column("reference", Text, nullable=False),
    Column("customer_key", Text, nullable=False),
    Column("name", Text),
    Column("email", Text),
    Column("phone", Text),
    Column("language", Text),
    Column("preferred_channel", Text, comment="email | sms | chat | social"),
    Column("opened_on", Text, comment="the channel the complaint came in on"),
    Column("time_zone", Text, comment="the customer's IANA time zone, when case.opened says"),
    comment="who to tell about a case, learned from case.opened; erased on request",
)

template_versions = Table(
    "template_versions",
    metadata,
    Column("kind", Text, primary_key=True, comment="acknowledgement, response, decision, ..."),
    Column("language", Text, primary_key=True, comment="language tag: ro, pt-BR, zh-Hant"),
    Column("version", Integer, primary_key=True, comment="1 is the built-in default"),
    Column("subject", Text, nullable=False),
    Column("body_text", Text, nullable=False),
    Column("body_html", Text, comment="HTML body; without it the text is used, escaped"),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("created_by", Text, nullable=False, comment="API key name, or built-in"),
    comment="every version of every template; the highest version is the one in use",
)

notification_attempts = Table(
    "notification_attempts",
    metadata,
    Column("id", BigInteger, Identity(always=True), primary_key=True),
    Column(
        "notification_id",
        UUID(as_uuid=True),
        ForeignKey("notifications.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("channel", Text, nullable=False),
    Column("recipient", Text, nullable=False),
    Column("attempted_at", DateTime(timezone=True), nullable=False),
    Column("outcome", Text, nullable=False, comment="sent | retry | failed"),
    Column("error", Text),
    Index("ix_notification_attempts_notification", "notification_id", "id"),
)

follow_ups = Table(
    "follow_ups",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True, comment="the follow-up's trigger id"),
    Column("case_id", UUID(as_uuid=True), nullable=False),
    Column("resolved_event_id", UUID(as_uuid=True), nullable=False, unique=True),
    Column("resolved_at", DateTime(timezone=True), nullable=False),
    Column("due_at", DateTime(timezone=True), nullable=False),
    Column("status", Text, nullable=False, comment="pending | sent | cancelled"),
    Column("fired_at", DateTime(timezone=True)),
    Column("correlation_id", Text),
    Index("ix_follow_ups_due", "due_at", postgresql_where=text("status = 'pending'")),
    Index("ix_follow_ups_case", "case_id"),
    comment="'did the fix hold?' messages scheduled after a resolution",
)
