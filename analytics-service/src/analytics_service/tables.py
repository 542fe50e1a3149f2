"""Analytics tables (schema ``analytics``): one fact row per complaint and per case.

Facts, not counters: a redelivered event upserts the same row, so figures stay exact under
at-least-once delivery and a replay from offset 0 rebuilds them.
"""

from __future__ import annotations

from redress_shared.db import PlatformTables
from sqlalchemy import (
    Column,
    Date,
    DateTime,
    Index,
    Integer,
    MetaData,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import UUID

SCHEMA = "analytics"
metadata = MetaData(schema=SCHEMA)
platform = PlatformTables(metadata)

complaint_facts = Table(
    "complaint_facts",
    metadata,
    Column("complaint_id", UUID(as_uuid=True), primary_key=True),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("channel", Text, nullable=False),
    Column("category", Text),
    Column("product", Text),
    Column("supplier", Text),
    Column("language", Text),
    Column("customer_key", Text, nullable=False),
    Index("ix_complaint_facts_received_at", "received_at"),
)

case_facts = Table(
    "case_facts",
    metadata,
    Column("case_id", UUID(as_uuid=True), primary_key=True),
    Column("complaint_id", UUID(as_uuid=True), nullable=False, unique=True),
    Column("priority", Text, nullable=False),
    Column("opened_at", DateTime(timezone=True), nullable=False),
)

decision_facts = Table(
    "decision_facts",
    metadata,
    Column("case_id", UUID(as_uuid=True), primary_key=True),
    Column("complaint_id", UUID(as_uuid=True), nullable=False, index=True),
    Column("validity", Text, nullable=False),
    Column("root_cause", Text),
    Column("decided_at", DateTime(timezone=True), nullable=False),
)

alerts = Table(
    "alerts",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("kind", Text, nullable=False),
    Column("subject", Text, nullable=False),
    Column("attribution", Text, nullable=False, server_default=""),
    Column("period_start", Date, nullable=False),
    Column("period_end", Date, nullable=False),
    Column("count", Integer, nullable=False),
    Column("threshold", Integer, nullable=False),
    Column("raised_at", DateTime(timezone=True), nullable=False),
    Column("cleared_at", DateTime(timezone=True)),
    # One alert per condition and period; a repeat evaluation updates it, never a new one.
    UniqueConstraint("kind", "subject", "attribution", "period_start", name="uq_alerts_condition"),
)
