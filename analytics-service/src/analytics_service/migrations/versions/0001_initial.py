"""Analytics: complaint and case facts and the platform tables.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op
from redress_shared.migrations import create_platform_tables
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

SCHEMA = "analytics"


def upgrade() -> None:
    create_platform_tables(SCHEMA)
    op.create_table(
        "complaint_facts",
        sa.Column("complaint_id", postgresql.UUID(as_uuid=True), primary_key=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("channel", sa.Text, nullable=False),
        sa.Column("category", sa.Text),
        sa.Column("product", sa.Text),
        sa.Column("supplier", sa.Text),
        sa.Column("language", sa.Text),
        sa.Column("customer_key", sa.Text, nullable=False),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_complaint_facts_received_at", "complaint_facts", ["received_at"], schema=SCHEMA
    )
    op.create_table(
        "case_facts",
        sa.Column("case_id", postgresql.UUID(as_uuid=True), primary_key=True),
        sa.Column("complaint_id", postgresql.UUID(as_uuid=True), nullable=False, unique=True),
        sa.Column("priority", sa.Text, nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        schema=SCHEMA,
    )


def downgrade() -> None:
    for table in ("case_facts", "complaint_facts", "api_keys", "inbox", "outbox"):
        op.drop_table(table, schema=SCHEMA)
