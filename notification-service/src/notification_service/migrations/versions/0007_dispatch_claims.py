"""Claims of the dispatchers: a message or webhook delivery is claimed (``claim_id``,
``claimed_until``) in a short transaction, sent with no transaction open, and its outcome
recorded in a second one only while the claim still holds. A claim whose process died
expires at ``claimed_until`` and is taken again.

Revision ID: 0007_dispatch_claims
Revises: 0006
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0007_dispatch_claims"
down_revision = "0006"
branch_labels = None
depends_on = None

SCHEMA = "notification"
TABLES = ("notifications", "webhook_deliveries")


def upgrade() -> None:
    for table in TABLES:
        op.add_column(table, sa.Column("claim_id", postgresql.UUID(as_uuid=True)), schema=SCHEMA)
        op.add_column(table, sa.Column("claimed_until", sa.DateTime(timezone=True)), schema=SCHEMA)
    # The endpoint limit counts the claims open on one subscription.
    op.create_index(
        "ix_webhook_deliveries_claimed",
        "webhook_deliveries",
        ["subscription_id"],
        schema=SCHEMA,
        postgresql_where=sa.text("claim_id IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_webhook_deliveries_claimed", "webhook_deliveries", schema=SCHEMA)
    for table in TABLES:
        op.drop_column(table, "claimed_until", schema=SCHEMA)
        op.drop_column(table, "claim_id", schema=SCHEMA)
