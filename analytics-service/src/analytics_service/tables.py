"""Analytics tables (schema ``analytics``): one fact row per complaint and per case.

Facts, not counters: a redelivered event upserts the same row, so figures stay exact under
at-least-once delivery and a replay from offset 0 rebuilds them.
"""

from __future__ import annotations

from redress_shared.db import PlatformTables
from sqlalchemy import Column, DateTime, Index, MetaData, Table, Text
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
