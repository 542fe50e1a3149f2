"""Replies, content fingerprints and attachment bytes: ``complaints.content_fingerprint``
(duplicates within a window), ``complaint_messages`` (a customer's replies to a registered
complaint), ``attachment_contents`` (bytes by sha256, stored once) and ``attachments``
(which complaint or message carries which bytes under which name).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

SCHEMA = "intake"


def upgrade() -> None:
    op.add_column("complaints", sa.Column("content_fingerprint", sa.Text), schema=SCHEMA)
    op.create_index(
        "ix_complaints_fingerprint",
        "complaints",
        ["customer_key", "content_fingerprint", "received_at"],
        schema=SCHEMA,
    )
    op.create_table(
        "complaint_messages",
        sa.Column("id", postgresql.UUID(as_uuid=True), primary_key=True),
        sa.Column(
            "complaint_id",
            postgresql.UUID(as_uuid=True),
            sa.ForeignKey(f"{SCHEMA}.complaints.id"),
            nullable=False,
        ),
        sa.Column(
            "raw_submission_id",
            postgresql.UUID(as_uuid=True),
            sa.ForeignKey(f"{SCHEMA}.raw_submissions.id"),
            nullable=False,
        ),
        sa.Column("channel", sa.Text, nullable=False),
        sa.Column("channel_message_id", sa.Text),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sender", postgresql.JSONB, nullable=False),
        sa.Column("subject", sa.Text),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("language", sa.Text),
        sa.Column("matched_by", sa.Text, nullable=False),
        sa.Column("context", postgresql.JSONB),
        schema=SCHEMA,
    )
    op.create_index(
        "ux_complaint_messages_channel_message_id",
        "complaint_messages",
        ["channel", "channel_message_id"],
        unique=True,
        schema=SCHEMA,
        postgresql_where=sa.text("channel_message_id IS NOT NULL"),
    )
    op.create_index(
        "ix_complaint_messages_complaint_id", "complaint_messages", ["complaint_id"], schema=SCHEMA
    )
    op.create_table(
        "attachment_contents",
        sa.Column("sha256", sa.Text, primary_key=True),
        sa.Column("content", sa.LargeBinary, nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("stored_at", sa.DateTime(timezone=True), nullable=False),
        schema=SCHEMA,
    )
    op.create_table(
        "attachments",
        sa.Column("id", postgresql.UUID(as_uuid=True), primary_key=True),
        sa.Column(
            "complaint_id",
            postgresql.UUID(as_uuid=True),
            sa.ForeignKey(f"{SCHEMA}.complaints.id"),
            nullable=False,
        ),
        sa.Column(
            "message_id",
            postgresql.UUID(as_uuid=True),
            sa.ForeignKey(f"{SCHEMA}.complaint_messages.id"),
        ),
        sa.Column(
            "sha256",
            sa.Text,
            sa.ForeignKey(f"{SCHEMA}.attachment_contents.sha256"),
            nullable=False,
        ),
        sa.Column("filename", sa.Text),
        sa.Column("content_type", sa.Text, nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        schema=SCHEMA,
    )
    op.create_index("ix_attachments_complaint_id", "attachments", ["complaint_id"], schema=SCHEMA)


def downgrade() -> None:
    op.drop_table("attachments", schema=SCHEMA)
    op.drop_table("attachment_contents", schema=SCHEMA)
    op.drop_table("complaint_messages", schema=SCHEMA)
    op.drop_index("ix_complaints_fingerprint", "complaints", schema=SCHEMA)
    op.drop_column("complaints", "content_fingerprint", schema=SCHEMA)
