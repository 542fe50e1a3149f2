"""The outbox notifies the service's channel when a transaction that wrote it commits, so the
outbox relay in every process and replica is woken at once (it LISTENs on a connection of its
own) and its unprompted poll can be long.

Revision ID: 0010_outbox_wakeup
Revises: 0009_ready_messages
Create Date: 2026-12-03
"""

from redress_shared.migrations import add_outbox_wakeup, drop_outbox_wakeup

revision = "0010_outbox_wakeup"
down_revision = "0009_ready_messages"
branch_labels = None
depends_on = None

SCHEMA = "notification"


def upgrade() -> None:
    add_outbox_wakeup(SCHEMA)


def downgrade() -> None:
    drop_outbox_wakeup(SCHEMA)
