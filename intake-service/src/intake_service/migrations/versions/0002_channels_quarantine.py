"""Intake channels and quarantine: normalisation results on complaints, quarantine state on
raw submissions, and a ``quarantine`` view for operators.

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

SCHEMA = "intake"


def upgrade() -> None:
    op.add_column("complaints", sa.Column("priority_hint", sa.Text), schema=SCHEMA)
    op.add_column(
        "complaints",
        sa.Column("reputation_sensitive", sa.Boolean, nullable=False, server_default=sa.false()),
        schema=SCHEMA,
    )
    op.add_column("complaints", sa.Column("context", postgresql.JSONB), schema=SCHEMA)
    op.add_column("complaints", sa.Column("classification", postgresql.JSONB), schema=SCHEMA)
    op.add_column("raw_submissions", sa.Column("error", sa.Text), schema=SCHEMA)
    op.add_column("raw_submissions", sa.Column("corrected_payload", sa.LargeBinary), schema=SCHEMA)
    op.add_column(
        "raw_submissions",
        sa.Column("complaint_id", postgresql.UUID(as_uuid=True)),
        schema=SCHEMA,
    )
    op.add_column(
        "raw_submissions",
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        schema=SCHEMA,
    )
    op.add_column(
        "raw_submissions", sa.Column("updated_at", sa.DateTime(timezone=True)), schema=SCHEMA
    )
    op.create_index(
        "ix_raw_submissions_quarantined",
        "raw_submissions",
        ["received_at"],
        schema=SCHEMA,
        postgresql_where=sa.text("status = 'quarantined'"),
    )
    op.execute(
        f"""
        CREATE VIEW {SCHEMA}.quarantine AS
        SELECT id, channel, content_type, received_at, submitted_by, error, attempts,
               updated_at, corrected_payload IS NOT NULL AS corrected
        FROM {SCHEMA}.raw_submissions
        WHERE status = 'quarantined'
        """
    )


def downgrade() -> None:
    op.execute(f"DROP VIEW {SCHEMA}.quarantine")
    op.drop_index("ix_raw_submissions_quarantined", "raw_submissions", schema=SCHEMA)
    for column in ("updated_at", "attempts", "complaint_id", "corrected_payload", "error"):
        op.drop_column("raw_submissions", column, schema=SCHEMA)
    for column in ("classification", "context", "reputation_sensitive", "priority_hint"):
        op.drop_column("complaints", column, schema=SCHEMA)
