"""Case service tables (schema ``cases``)."""

from __future__ import annotations

from redress_shared.db import PlatformTables
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Identity,
    Index,
    Integer,
    Interval,
    MetaData,
    Numeric,
    PrimaryKeyConstraint,
    Table,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID

SCHEMA = "cases"
metadata = MetaData(schema=SCHEMA)
platform = PlatformTables(metadata)

customers = Table(
    "customers",
    metadata,
    Column("customer_key", Text, primary_key=True),
    Column("name", Text),
    Column("email", Text),
    Column("phone", Text),
    Column("language", Text),
    Column("tier", Text, nullable=False, server_default="standard"),
    Column("first_seen_at", DateTime(timezone=True), nullable=False),
    Column("last_complaint_at", DateTime(timezone=True), nullable=False),
    Column("complaint_count", Integer, nullable=False, server_default="0"),
    Column("preferred_channel", Text, comment="email | sms | chat | social"),
    Column("time_zone", Text, comment="IANA time zone, e.g. Europe/Bucharest"),
    Column("version", Integer, nullable=False, server_default="1"),
    Column("updated_at", DateTime(timezone=True), comment="last profile change by ops"),
    Column("updated_by", Text),
)

calendars = Table(
    "calendars",
    metadata,
    Column("name", Text, primary_key=True),
    Column("time_zone", Text, nullable=False),
    Column("hours", JSONB, nullable=False, comment='{"mon": [["09:00", "17:00"]], ...}'),
    Column("holidays", JSONB, nullable=False, server_default="[]", comment='["2026-12-01", ...]'),
)

sla_policies = Table(
    "sla_policies",
    metadata,
    Column("name", Text, primary_key=True),
    Column("priority", Text, nullable=False, unique=True),
    Column("acknowledge_within", Interval, nullable=False),
    Column("first_response_within", Interval, nullable=False),
    Column("resolve_within", Interval, nullable=False),
    Column("calendar", Text, ForeignKey(calendars.c.name), nullable=False, server_default="24x7"),
    Column("warning_share", Float, nullable=False, server_default="0.8"),
    Column("statutory_cap", Interval, comment="calendar time from receipt; no pause extends it"),
)

opening_settings_version = Table(
    "opening_settings_version",
    metadata,
    Column("single", Boolean, primary_key=True, server_default=text("true")),
    Column(
        "version",
        BigInteger,
        nullable=False,
        comment="bumped by a trigger with every change of sla_policies, calendars, routing_rules",
    ),
    CheckConstraint("single", name="one_row"),
)

cases = Table(
    "cases",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("complaint_id", UUID(as_uuid=True), nullable=False, unique=True),
    Column("reference", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("priority", Text, nullable=False),
    Column("category", Text),
    Column("channel", Text, nullable=False),
    Column("customer_key", Text, ForeignKey(customers.c.customer_key), nullable=False),
    Column("subject", Text),
    Column("body", Text, comment="the complaint in the customer's own words"),
    Column("language", Text),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("opened_at", DateTime(timezone=True), nullable=False),
    Column("supplier", Text),
    Column("product", Text),
    Column("team", Text),
    Column("assignee", Text),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("acknowledge_by", DateTime(timezone=True), nullable=False),
    Column("first_response_by", DateTime(timezone=True), nullable=False),
    Column("resolve_by", DateTime(timezone=True), nullable=False),
    Column("sla_policy", Text, nullable=False),
    Column("version", Integer, nullable=False, server_default="1"),
    Column("closed_at", DateTime(timezone=True)),
    Column("reopen_count", Integer, nullable=False, server_default="0"),
    Column("merged_into", UUID(as_uuid=True)),
    Column("status_before_merge", Text),
    Index("ix_cases_opened_at_id", "opened_at", "id"),
    Index("ix_cases_customer_key", "customer_key"),
    Index("ix_cases_customer_key_received_at", "customer_key", "received_at"),
)

case_history = Table(
    "case_history",
    metadata,
    Column("id", BigInteger, Identity(always=True), primary_key=True),
    Column("case_id", UUID(as_uuid=True), ForeignKey(cases.c.id), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("actor", Text, nullable=False),
    Column("action", Text, nullable=False),
    Column("before", JSONB),
    Column("after", JSONB),
    Column("event_id", UUID(as_uuid=True), comment="the event that caused or described it"),
    Index("ix_case_history_case_id", "case_id", "id"),
)

case_clocks = Table(
    "case_clocks",
    metadata,
    Column("case_id", UUID(as_uuid=True), ForeignKey(cases.c.id), nullable=False),
    Column("clock", Text, nullable=False),
    Column("calendar", Text, nullable=False),
    Column("target", Interval, nullable=False),
    Column("warning_share", Float, nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("due_at", DateTime(timezone=True), nullable=False),
    Column("warn_at", DateTime(timezone=True), nullable=False),
    Column("cap_at", DateTime(timezone=True)),
    Column("state", Text, nullable=False),
    Column("paused_since", DateTime(timezone=True)),
    Column("paused_total", Interval, nullable=False, server_default="0"),
    Column("stopped_at", DateTime(timezone=True)),
    Column("warning_fired_at", DateTime(timezone=True)),
    Column("breached_at", DateTime(timezone=True)),
    PrimaryKeyConstraint("case_id", "clock"),
)

case_messages = Table(
    "case_messages",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("case_id", UUID(as_uuid=True), ForeignKey(cases.c.id), nullable=False),
    Column("kind", Text, nullable=False, comment="note (internal) | response (to the customer)"),
    Column("body", Text, nullable=False),
    Column("author", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_case_messages_case_id", "case_id", "created_at"),
)

case_decisions = Table(
    "case_decisions",
    metadata,
    Column("case_id", UUID(as_uuid=True), ForeignKey(cases.c.id), primary_key=True),
    Column("validity", Text, nullable=False),
    Column("explanation", Text),
    Column("way_forward", Text),
    Column("root_cause", Text),
    Column("responsible_opinion", Text),
    Column("decided_by", Text, nullable=False),
    Column("decided_at", DateTime(timezone=True), nullable=False),
)

remedies = Table(
    "remedies",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("case_id", UUID(as_uuid=True), ForeignKey(cases.c.id), nullable=False),
    Column("remedy_type", Text, nullable=False),
    Column("amount", Numeric(12, 2)),
    Column("currency", Text),
    Column("method", Text),
    Column("due_date", Date),
    Column("description", Text),
    Column("status", Text, nullable=False),
    Column("created_by", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("ix_remedies_case_id", "case_id"),
)

satisfaction_surveys = Table(
    "satisfaction_surveys",
    metadata,
    Column("case_id", UUID(as_uuid=True), ForeignKey(cases.c.id), primary_key=True),
    Column("criteria", JSONB, nullable=False),
    Column("coefficient", Numeric(5, 2), nullable=False),
    Column("would_recommend", Boolean),
    Column("would_continue", Boolean),
    Column("comment", Text),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
)

corrective_actions = Table(
    "corrective_actions",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("title", Text, nullable=False),
    Column("description", Text),
    Column("owner", Text),
    Column("due_date", Date),
    Column("status", Text, nullable=False),
    Column("supplier", Text),
    Column("product", Text),
    Column("effect", Text),
    Column("source_alert_id", UUID(as_uuid=True), unique=True, comment="the alert that started it"),
    Column("created_by", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("closed_at", DateTime(timezone=True)),
)

corrective_action_cases = Table(
    "corrective_action_cases",
    metadata,
    Column("action_id", UUID(as_uuid=True), ForeignKey(corrective_actions.c.id), nullable=False),
    Column("case_id", UUID(as_uuid=True), ForeignKey(cases.c.id), nullable=False),
    PrimaryKeyConstraint("action_id", "case_id"),
)

commitments = Table(
    "commitments",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("case_id", UUID(as_uuid=True), ForeignKey(cases.c.id), nullable=False),
    Column("description", Text, nullable=False),
    Column("due_at", DateTime(timezone=True), nullable=False),
    Column("status", Text, nullable=False, comment="open | kept | missed | cancelled"),
    Column("created_by", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("settled_at", DateTime(timezone=True)),
    Index("ix_commitments_open_due", "due_at", postgresql_where=text("status = 'open'")),
)

teams = Table(
    "teams",
    metadata,
    Column("name", Text, primary_key=True),
    Column("lead", Text, nullable=False, comment="who gets escalations and breached cases"),
)

routing_rules = Table(
    "routing_rules",
    metadata,
    Column("position", Integer, primary_key=True),
    Column("team", Text, ForeignKey(teams.c.name), nullable=False),
    Column("category", Text),
    Column("product", Text),
    Column("language", Text),
    Column("channel", Text),
    Column("tier", Text),
)
