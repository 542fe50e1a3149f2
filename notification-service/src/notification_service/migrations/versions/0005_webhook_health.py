"""Webhook endpoint health: how long it has been failing, who owns it, when it was disabled.

Revision ID: 0005_webhook_health
Revises: 0004_customer_messages
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0005_webhook_health"
down_revision = "0004_customer_messages"
branch_labels = None
depends_on = None

SCHEMA = "notification"
TABLE = "webhook_subscriptions"


def upgrade() -> None:
    op.add_column(TABLE, sa.Column("disabled_at", sa.DateTime(timezone=True)), schema=SCHEMA)
    op.add_column(TABLE, sa.Column("owner_key_id", postgresql.UUID(as_uuid=True)), schema=SCHEMA)
    op.add_column(TABLE, sa.Column("failing_since", sa.DateTime(timezone=True)), schema=SCHEMA)
    op.add_column(
        TABLE,
        sa.Column("consecutive_failures", sa.Integer, nullable=False, server_default="0"),
        schema=SCHEMA,
    )


def downgrade() -> None:
    for column in ("consecutive_failures", "failing_since", "owner_key_id", "disabled_at"):
        op.drop_column(TABLE, column, schema=SCHEMA)
