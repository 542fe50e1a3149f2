"""The dispatcher's claim reads an index of the messages it can take: pending and not
claimed (``ix_notifications_ready``), and a second one of the claims open
(``ix_notifications_claimed``) for those whose process died and whose claim expired. The
former index of every pending message made each claim walk past the messages in flight
(live rows it must fetch and skip) as well as the dead entries of a burst's sent messages.

Revision ID: 0009_ready_messages
Revises: 0008_customer_time_zone
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = "0009_ready_messages"
down_revision = "0008_customer_time_zone"
branch_labels = None
depends_on = None

SCHEMA = "notification"


def upgrade() -> None:
    op.create_index(
        "ix_notifications_ready",
        "notifications",
        ["next_attempt_at"],
        schema=SCHEMA,
        postgresql_where=sa.text("status = 'pending' AND claim_id IS NULL"),
    )
    op.create_index(
        "ix_notifications_claimed",
        "notifications",
        ["claimed_until"],
        schema=SCHEMA,
        postgresql_where=sa.text("status = 'pending' AND claim_id IS NOT NULL"),
    )
    op.drop_index("ix_notifications_due", "notifications", schema=SCHEMA)


def downgrade() -> None:
    op.create_index(
        "ix_notifications_due",
        "notifications",
        ["next_attempt_at"],
        schema=SCHEMA,
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.drop_index("ix_notifications_claimed", "notifications", schema=SCHEMA)
    op.drop_index("ix_notifications_ready", "notifications", schema=SCHEMA)
