"""Analytics: decision facts and alerts.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

SCHEMA = "analytics"


def upgrade() -> None:
    op.create_table(
        "decision_facts",
        sa.Column("case_id", postgresql.UUID(as_uuid=True), primary_key=True),
        sa.Column("complaint_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("validity", sa.Text, nullable=False),
        sa.Column("root_cause", sa.Text),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_analytics_decision_facts_complaint_id",
        "decision_facts",
        ["complaint_id"],
        schema=SCHEMA,
    )
    op.create_table(
        "alerts",
        sa.Column("id", postgresql.UUID(as_uuid=True), primary_key=True),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("attribution", sa.Text, nullable=False, server_default=""),
        sa.Column("period_start", sa.Date, nullable=False),
        sa.Column("period_end", sa.Date, nullable=False),
        sa.Column("count", sa.Integer, nullable=False),
        sa.Column("threshold", sa.Integer, nullable=False),
        sa.Column("raised_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cleared_at", sa.DateTime(timezone=True)),
        sa.UniqueConstraint(
            "kind", "subject", "attribution", "period_start", name="uq_alerts_condition"
        ),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_complaint_facts_supplier", "complaint_facts", ["supplier", "received_at"], schema=SCHEMA
    )


def downgrade() -> None:
    op.drop_index("ix_complaint_facts_supplier", table_name="complaint_facts", schema=SCHEMA)
    op.drop_table("alerts", schema=SCHEMA)
    op.drop_table("decision_facts", schema=SCHEMA)
