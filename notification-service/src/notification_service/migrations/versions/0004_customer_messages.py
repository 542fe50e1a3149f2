"""Notification: editable templates, channels with fallback, attempts, follow-ups.

Revision ID: 0004_customer_messages
Revises: 0003
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0004_customer_messages"
down_revision = "0003"
branch_labels = None
depends_on = None

SCHEMA = "notification"


def upgrade() -> None:
    op.create_table(
        "template_versions",
        sa.Column("kind", sa.Text, primary_key=True),
        sa.Column("language", sa.Text, primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("body_text", sa.Text, nullable=False),
        sa.Column("body_html", sa.Text),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.Text, nullable=False),
        schema=SCHEMA,
    )
    op.add_column("notifications", sa.Column("template_version", sa.Integer), schema=SCHEMA)
    op.add_column("notifications", sa.Column("body_html", sa.Text), schema=SCHEMA)
    op.add_column(
        "notifications",
        sa.Column(
            "fallback_channels", postgresql.ARRAY(sa.Text), nullable=False, server_default="{}"
        ),
        schema=SCHEMA,
    )
    op.add_column(
        "notifications", sa.Column("collapsed_into", postgresql.UUID(as_uuid=True)), schema=SCHEMA
    )
    op.add_column("case_contacts", sa.Column("preferred_channel", sa.Text), schema=SCHEMA)
    op.add_column("case_contacts", sa.Column("opened_on", sa.Text), schema=SCHEMA)
    op.create_table(
        "notification_attempts",
        sa.Column("id", sa.BigInteger, sa.Identity(always=True), primary_key=True),
        sa.Column(
            "notification_id",
            postgresql.UUID(as_uuid=True),
            sa.ForeignKey(f"{SCHEMA}.notifications.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("channel", sa.Text, nullable=False),
        sa.Column("recipient", sa.Text, nullable=False),
        sa.Column("attempted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("outcome", sa.Text, nullable=False),
        sa.Column("error", sa.Text),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_notification_attempts_notification",
        "notification_attempts",
        ["notification_id", "id"],
        schema=SCHEMA,
    )
    op.create_table(
        "follow_ups",
        sa.Column("id", postgresql.UUID(as_uuid=True), primary_key=True),
        sa.Column("case_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("resolved_event_id", postgresql.UUID(as_uuid=True), nullable=False, unique=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("fired_at", sa.DateTime(timezone=True)),
        sa.Column("correlation_id", sa.Text),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_follow_ups_due",
        "follow_ups",
        ["due_at"],
        schema=SCHEMA,
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.create_index("ix_follow_ups_case", "follow_ups", ["case_id"], schema=SCHEMA)


def downgrade() -> None:
    op.drop_table("follow_ups", schema=SCHEMA)
    op.drop_table("notification_attempts", schema=SCHEMA)
    op.drop_column("case_contacts", "opened_on", schema=SCHEMA)
    op.drop_column("case_contacts", "preferred_channel", schema=SCHEMA)
    for column in ("collapsed_into", "fallback_channels", "body_html", "template_version"):
        op.drop_column("notifications", column, schema=SCHEMA)
    op.drop_table("template_versions", schema=SCHEMA)
