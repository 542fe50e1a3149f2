"""Notifications and the platform tables.

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

SCHEMA = "notification"


def upgrade() -> None:
    create_platform_tables(SCHEMA)
    op.create_table(
        "notifications",
        sa.Column("id", postgresql.UUID(as_uuid=True), primary_key=True),
        sa.Column("case_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("reference", sa.Text, nullable=False),
        sa.Column("trigger_event_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("template", sa.Text, nullable=False),
        sa.Column("language", sa.Text, nullable=False),
        sa.Column("channel", sa.Text, nullable=False),
        sa.Column("recipient", sa.Text, nullable=False),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("body_text", sa.Text, nullable=False),
        sa.Column("message_id", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.Text),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True)),
        sa.Column("correlation_id", sa.Text),
        sa.UniqueConstraint(
            "trigger_event_id", "template", name="uq_notifications_trigger_template"
        ),
        schema=SCHEMA,
    )
    op.create_index("ix_notifications_case_id", "notifications", ["case_id"], schema=SCHEMA)
    op.create_index(
        "ix_notifications_due",
        "notifications",
        ["next_attempt_at"],
        schema=SCHEMA,
        postgresql_where=sa.text("status = 'pending'"),
    )


def downgrade() -> None:
    for table in ("notifications", "api_keys", "inbox", "outbox"):
        op.drop_table(table, schema=SCHEMA)
