"""Intake: raw submissions, complaints, idempotency keys and the platform tables.

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

SCHEMA = "intake"


def upgrade() -> None:
    create_platform_tables(SCHEMA)
    op.execute(sa.schema.CreateSequence(sa.Sequence("complaint_reference_seq", schema=SCHEMA)))
    op.create_table(
        "raw_submissions",
        sa.Column("id", postgresql.UUID(as_uuid=True), primary_key=True),
        sa.Column("channel", sa.Text, nullable=False),
        sa.Column("content_type", sa.Text, nullable=False),
        sa.Column("payload", sa.LargeBinary, nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("submitted_by", sa.Text),
        sa.Column("status", sa.Text, nullable=False),
        schema=SCHEMA,
    )
    op.create_table(
        "complaints",
        sa.Column("id", postgresql.UUID(as_uuid=True), primary_key=True),
        sa.Column("reference", sa.Text, nullable=False, unique=True),
        sa.Column(
            "raw_submission_id",
            postgresql.UUID(as_uuid=True),
            sa.ForeignKey(f"{SCHEMA}.raw_submissions.id"),
            nullable=False,
        ),
        sa.Column("channel", sa.Text, nullable=False),
        sa.Column("channel_message_id", sa.Text),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("customer_key", sa.Text, nullable=False),
        sa.Column("customer", postgresql.JSONB, nullable=False),
        sa.Column("subject", sa.Text),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("language", sa.Text),
        sa.Column("category", sa.Text),
        sa.Column("product", postgresql.JSONB),
        sa.Column("supplier", sa.Text),
        sa.Column("order_ref", sa.Text),
        schema=SCHEMA,
    )
    op.create_index(
        "ux_complaints_channel_message_id",
        "complaints",
        ["channel", "channel_message_id"],
        unique=True,
        schema=SCHEMA,
        postgresql_where=sa.text("channel_message_id IS NOT NULL"),
    )
    op.create_index("ix_complaints_customer_key", "complaints", ["customer_key"], schema=SCHEMA)
    op.create_table(
        "idempotency_keys",
        sa.Column("client", sa.Text, nullable=False),
        sa.Column("key", sa.Text, nullable=False),
        sa.Column("request_hash", sa.Text, nullable=False),
        sa.Column("complaint_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.PrimaryKeyConstraint("client", "key"),
        schema=SCHEMA,
    )


def downgrade() -> None:
    op.drop_table("idempotency_keys", schema=SCHEMA)
    op.drop_table("complaints", schema=SCHEMA)
    op.drop_table("raw_submissions", schema=SCHEMA)
    op.execute(sa.schema.DropSequence(sa.Sequence("complaint_reference_seq", schema=SCHEMA)))
    for table in ("api_keys", "inbox", "outbox"):
        op.drop_table(table, schema=SCHEMA)
