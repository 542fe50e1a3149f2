"""Notification service tables (schema ``notification``)."""

from __future__ import annotations

from redress_shared.db import PlatformTables
from sqlalchemy import (
    Column,
    DateTime,
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
    Column("status", Text, nullable=False, comment="pending | sent | failed"),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False),
    Column("last_error", Text),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("sent_at", DateTime(timezone=True)),
    Column("correlation_id", Text, comment="carried from the triggering event to the outcome"),
    # One message per triggering event and template, however often the event arrives.
    UniqueConstraint("trigger_event_id", "template", name="uq_notifications_trigger_template"),
    Index("ix_notifications_case_id", "case_id"),
    Index("ix_notifications_due", "next_attempt_at", postgresql_where=text("status = 'pending'")),
)
