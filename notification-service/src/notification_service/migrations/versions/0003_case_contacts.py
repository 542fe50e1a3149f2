"""Notification: the contact of each case's customer, for later messages.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

SCHEMA = "notification"


def upgrade() -> None:
    op.create_table(
        "case_contacts",
        sa.Column("case_id", postgresql.UUID(as_uuid=True), primary_key=True),
        sa.Column("reference", sa.Text, nullable=False),
        sa.Column("customer_key", sa.Text, nullable=False),
        sa.Column("name", sa.Text),
        sa.Column("email", sa.Text),
        sa.Column("phone", sa.Text),
        sa.Column("language", sa.Text),
        schema=SCHEMA,
    )


def downgrade() -> None:
    op.drop_table("case_contacts", schema=SCHEMA)
