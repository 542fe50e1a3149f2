"""Cases: notes and responses, validity decisions, remedies, satisfaction surveys.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

SCHEMA = "cases"
UUID = postgresql.UUID(as_uuid=True)


def _case_fk(primary_key: bool = False) -> sa.Column:
    return sa.Column(
        "case_id",
        UUID,
        sa.ForeignKey(f"{SCHEMA}.cases.id"),
        nullable=False,
        primary_key=primary_key,
    )


def upgrade() -> None:
    op.create_table(
        "case_messages",
        sa.Column("id", UUID, primary_key=True),
        _case_fk(),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("author", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_case_messages_case_id", "case_messages", ["case_id", "created_at"], schema=SCHEMA
    )
    op.create_table(
        "case_decisions",
        _case_fk(primary_key=True),
        sa.Column("validity", sa.Text, nullable=False),
        sa.Column("explanation", sa.Text),
        sa.Column("way_forward", sa.Text),
        sa.Column("root_cause", sa.Text),
        sa.Column("responsible_opinion", sa.Text),
        sa.Column("decided_by", sa.Text, nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        schema=SCHEMA,
    )
    op.create_table(
        "remedies",
        sa.Column("id", UUID, primary_key=True),
        _case_fk(),
        sa.Column("remedy_type", sa.Text, nullable=False),
        sa.Column("amount", sa.Numeric(12, 2)),
        sa.Column("currency", sa.Text),
        sa.Column("method", sa.Text),
        sa.Column("due_date", sa.Date),
        sa.Column("description", sa.Text),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("created_by", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        schema=SCHEMA,
    )
    op.create_index("ix_remedies_case_id", "remedies", ["case_id"], schema=SCHEMA)
    op.create_table(
        "satisfaction_surveys",
        _case_fk(primary_key=True),
        sa.Column("criteria", postgresql.JSONB, nullable=False),
        sa.Column("coefficient", sa.Numeric(5, 2), nullable=False),
        sa.Column("would_recommend", sa.Boolean),
        sa.Column("would_continue", sa.Boolean),
        sa.Column("comment", sa.Text),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        schema=SCHEMA,
    )


def downgrade() -> None:
    for table in ("satisfaction_surveys", "remedies", "case_decisions", "case_messages"):
        op.drop_table(table, schema=SCHEMA)
