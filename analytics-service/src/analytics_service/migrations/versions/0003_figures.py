"""Analytics: case progress (SLA, outcomes), remedies, satisfaction, regions and incidents.

Revision ID: 0003_figures
Revises: 0002
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0003_figures"
down_revision = "0002"
branch_labels = None
depends_on = None

SCHEMA = "analytics"


def _moment(name: str) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True))


def upgrade() -> None:
    op.add_column("complaint_facts", sa.Column("region", sa.Text), schema=SCHEMA)
    for name, columns in (
        ("ix_complaint_facts_incident_product", ["category", "product", "received_at"]),
        ("ix_complaint_facts_incident_region", ["category", "region", "received_at"]),
        ("ix_complaint_facts_customer", ["customer_key", "received_at"]),
    ):
        op.create_index(name, "complaint_facts", columns, schema=SCHEMA)
    op.add_column("alerts", _moment("first_member_at"), schema=SCHEMA)
    op.add_column("alerts", _moment("last_member_at"), schema=SCHEMA)
    op.create_table(
        "incident_members",
        sa.Column(
            "alert_id",
            postgresql.UUID(as_uuid=True),
            sa.ForeignKey(f"{SCHEMA}.alerts.id"),
            primary_key=True,
        ),
        sa.Column("complaint_id", postgresql.UUID(as_uuid=True), primary_key=True),
        schema=SCHEMA,
    )
    op.create_table(
        "case_progress",
        sa.Column("case_id", postgresql.UUID(as_uuid=True), primary_key=True),
        sa.Column("complaint_id", postgresql.UUID(as_uuid=True)),
        sa.Column("reference", sa.Text),
        _moment("opened_at"),
        sa.Column(
            "priority", sa.Text, comment="Priority at opening: the one the SLA targets follow."
        ),
        sa.Column("customer_tier", sa.Text),
        sa.Column("team", sa.Text),
        _moment("team_changed_at"),
        sa.Column("status", sa.Text),
        sa.Column("status_version", sa.Integer),
        _moment("acknowledge_due_at"),
        _moment("first_response_due_at"),
        _moment("resolve_due_at"),
        _moment("acknowledged_at"),
        _moment("first_responded_at"),
        _moment("resolved_at"),
        _moment("closed_at"),
        sa.Column("reopened", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("was_paused", sa.Boolean, nullable=False, server_default=sa.false()),
        _moment("acknowledge_warned_at"),
        _moment("first_response_warned_at"),
        _moment("resolve_warned_at"),
        _moment("acknowledge_breached_at"),
        _moment("first_response_breached_at"),
        _moment("resolve_breached_at"),
        schema=SCHEMA,
    )
    op.create_index("ix_case_progress_opened_at", "case_progress", ["opened_at"], schema=SCHEMA)
    op.create_index("ix_case_progress_status", "case_progress", ["status"], schema=SCHEMA)
    op.create_table(
        "remedy_facts",
        sa.Column("remedy_id", postgresql.UUID(as_uuid=True), primary_key=True),
        sa.Column("case_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("remedy_type", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("amount", sa.Numeric(14, 2)),
        sa.Column("currency", sa.Text),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        schema=SCHEMA,
    )
    op.create_index("ix_analytics_remedy_facts_case_id", "remedy_facts", ["case_id"], schema=SCHEMA)
    op.create_table(
        "satisfaction_facts",
        sa.Column("case_id", postgresql.UUID(as_uuid=True), primary_key=True),
        sa.Column("coefficient", sa.Numeric(6, 2), nullable=False),
        sa.Column("would_recommend", sa.Boolean),
        sa.Column("would_continue", sa.Boolean),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_analytics_satisfaction_facts_recorded_at",
        "satisfaction_facts",
        ["recorded_at"],
        schema=SCHEMA,
    )


def downgrade() -> None:
    for table in ("satisfaction_facts", "remedy_facts", "case_progress", "incident_members"):
        op.drop_table(table, schema=SCHEMA)
    op.drop_column("alerts", "last_member_at", schema=SCHEMA)
    op.drop_column("alerts", "first_member_at", schema=SCHEMA)
    for name in (
        "ix_complaint_facts_customer",
        "ix_complaint_facts_incident_region",
        "ix_complaint_facts_incident_product",
    ):
        op.drop_index(name, table_name="complaint_facts", schema=SCHEMA)
    op.drop_column("complaint_facts", "region", schema=SCHEMA)
