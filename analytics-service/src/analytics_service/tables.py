"""Analytics tables (schema ``analytics``): one fact row per complaint and per case.

Facts, not counters: a redelivered event upserts the same row, so figures stay exact under
at-least-once delivery and a replay from offset 0 rebuilds them. The one counter table
(``supplier_defect_counts``) changes only by the difference a fact row's change makes, so
it is exact in the same way and rebuilt with the facts.
"""

from __future__ import annotations

from redress_shared.db import PlatformTables
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    Table,
    Text,
    UniqueConstraint,
    false,
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
    # ISO 3166 country of the customer's phone number (complaints carry no address).
    Column("region", Text),
    # The opening priority of the complaint's case (the first case recorded for it), set by
    # whichever of ``complaint.received`` and ``case.opened`` comes second.
    Column("priority", Text),
    # Likewise the customer's tier the case service knew when it opened that case.
    Column("customer_tier", Text),
    # Covering: a trend over any dimension, and the per-tier customer figure, are index-only
    # scans (0004_scale, 0005_query_scale).
    Index(
        "ix_complaint_facts_received_at",
        "received_at",
        postgresql_include=[
            "category",
            "channel",
            "product",
            "supplier",
            "language",
            "region",
            "priority",
            "complaint_id",
            "customer_key",
            "customer_tier",
        ],
    ),
    Index("ix_complaint_facts_supplier", "supplier", "received_at"),  # 0002
    Index("ix_complaint_facts_incident_product", "category", "product", "received_at"),
    Index("ix_complaint_facts_incident_region", "category", "region", "received_at"),
    Index("ix_complaint_facts_customer", "customer_key", "received_at"),
)

case_facts = Table(
    "case_facts",
    metadata,
    Column("case_id", UUID(as_uuid=True), primary_key=True),
    Column("complaint_id", UUID(as_uuid=True), nullable=False, unique=True),
    Column("priority", Text, nullable=False),
    Column("customer_tier", Text),
    Column("opened_at", DateTime(timezone=True), nullable=False),
    Index("ix_case_facts_complaint_priority", "complaint_id", postgresql_include=["priority"]),
)

decision_facts = Table(
    "decision_facts",
    metadata,
    Column("case_id", UUID(as_uuid=True), primary_key=True),
    Column("complaint_id", UUID(as_uuid=True), nullable=False, index=True),
    Column("validity", Text, nullable=False),
    Column("root_cause", Text),
    Column("decided_at", DateTime(timezone=True), nullable=False),
    Index(
        "ix_decision_facts_complaint_outcome",
        "complaint_id",
        postgresql_include=["validity", "root_cause"],
    ),
)

# Upheld, attributed decisions per supplier, month (UTC, of the complaint's receipt) and
# attribution: what a supplier-defect alert compares with its threshold. Kept exact by the
# decision and complaint handlers (a decision replaced by a newer one moves its count; one
# that arrives before its complaint is counted when the complaint arrives), so evaluating an
# alert reads one row instead of counting the supplier's month.
supplier_defect_counts = Table(
    "supplier_defect_counts",
    metadata,
    Column("supplier", Text, primary_key=True),
    Column("period_start", Date, primary_key=True),
    Column("attribution", Text, primary_key=True),
    Column("upheld", Integer, nullable=False),
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
    # Incidents only: event times of the first and the latest member complaint.
    Column("first_member_at", DateTime(timezone=True)),
    Column("last_member_at", DateTime(timezone=True)),
    # One alert per condition and period; a repeat evaluation updates it, never a new one.
    UniqueConstraint("kind", "subject", "attribution", "period_start", name="uq_alerts_condition"),
)

# The complaints an incident alert groups, so they can be answered together.
incident_members = Table(
    "incident_members",
    metadata,
    Column(
        "alert_id", UUID(as_uuid=True), ForeignKey("alerts.id"), primary_key=True, nullable=False
    ),
    Column("complaint_id", UUID(as_uuid=True), primary_key=True),
)

# Complaints per incident group (scope ``product``: a category and a product; ``region``: a
# category and a country) and five-minute slot of receipt (``slot`` = epoch seconds // 300),
# so the spike rule counts a window or a baseline by adding a bounded number of counters
# instead of scanning the group's complaints (0007). ``held``: the slot's complaints a product
# incident holds (region rows only; a regional spike does not count them).
incident_slots = Table(
    "incident_slots",
    metadata,
    Column("scope", Text, primary_key=True),
    Column("category", Text, primary_key=True),
    Column("value", Text, primary_key=True),
    Column("slot", BigInteger, primary_key=True),
    Column("complaints", Integer, nullable=False),
    Column("held", Integer, nullable=False, server_default="0"),
)

# The receipt of each incident group's latest complaint (when an incident is over by event
# time), kept with the slots.
incident_groups = Table(
    "incident_groups",
    metadata,
    Column("scope", Text, primary_key=True),
    Column("category", Text, primary_key=True),
    Column("value", Text, primary_key=True),
    Column("latest_at", DateTime(timezone=True), nullable=False),
)

# One row per case, merged from every case event with order-independent rules: the earliest
# time a clock stopped, warned or breached wins; team and status go to the newest change. So
# duplicates, out-of-order and late events all end in the same row.
# What the SLA and outcome figures read of each case of a cohort.
PROGRESS_COHORT_COLUMNS = [
    "case_id",
    "priority",
    "team",
    "received_at",
    "acknowledged_at",
    "first_responded_at",
    "resolved_at",
    "acknowledge_due_at",
    "first_response_due_at",
    "resolve_due_at",
    "acknowledge_breached_at",
    "first_response_breached_at",
    "resolve_breached_at",
    "was_paused",
    "reopened",
]

case_progress = Table(
    "case_progress",
    metadata,
    Column("case_id", UUID(as_uuid=True), primary_key=True),
    Column("complaint_id", UUID(as_uuid=True)),
    # The complaint's receipt (when the clocks start), copied from its fact row.
    Column("received_at", DateTime(timezone=True)),
    Column("reference", Text),
    Column("opened_at", DateTime(timezone=True)),
    Column("priority", Text, comment="Priority at opening: the one the SLA targets follow."),
    Column("customer_tier", Text),
    Column("team", Text),
    Column("team_changed_at", DateTime(timezone=True)),
    Column("status", Text),
    Column("status_version", Integer),
    Column("acknowledge_due_at", DateTime(timezone=True)),
    Column("first_response_due_at", DateTime(timezone=True)),
    Column("resolve_due_at", DateTime(timezone=True)),
    Column("acknowledged_at", DateTime(timezone=True)),
    Column("first_responded_at", DateTime(timezone=True)),
    Column("resolved_at", DateTime(timezone=True)),
    Column("closed_at", DateTime(timezone=True)),
    Column("reopened", Boolean, nullable=False, server_default=false()),
    # Once paused (waiting on the customer), the deadlines moved: only a reported breach counts.
    Column("was_paused", Boolean, nullable=False, server_default=false()),
    Column("acknowledge_warned_at", DateTime(timezone=True)),
    Column("first_response_warned_at", DateTime(timezone=True)),
    Column("resolve_warned_at", DateTime(timezone=True)),
    Column("acknowledge_breached_at", DateTime(timezone=True)),
    Column("first_response_breached_at", DateTime(timezone=True)),
    Column("resolve_breached_at", DateTime(timezone=True)),
    # Covering: the SLA and outcome figures of a cohort are index-only scans (0005).
    Index("ix_case_progress_opened_at", "opened_at", postgresql_include=PROGRESS_COHORT_COLUMNS),
    Index("ix_case_progress_status", "status"),
    Index("ix_case_progress_complaint", "complaint_id"),
)

# The latest state of each remedy (a newer change wins; an older, late one is ignored).
remedy_facts = Table(
    "remedy_facts",
    metadata,
    Column("remedy_id", UUID(as_uuid=True), primary_key=True),
    Column("case_id", UUID(as_uuid=True), nullable=False, index=True),
    Column("remedy_type", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("amount", Numeric(14, 2)),
    Column("currency", Text),
    Column("changed_at", DateTime(timezone=True), nullable=False),
)

# The latest satisfaction survey of each case.
satisfaction_facts = Table(
    "satisfaction_facts",
    metadata,
    Column("case_id", UUID(as_uuid=True), primary_key=True),
    Column("coefficient", Numeric(6, 2), nullable=False),
    Column("would_recommend", Boolean),
    Column("would_continue", Boolean),
    Column("recorded_at", DateTime(timezone=True), nullable=False, index=True),
)
