"""Parked outbox rows (``outbox.parked_at``, ``outbox.park_reason``) and the indexes the
retention loop deletes published outbox rows and old inbox ids by.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from redress_shared.migrations import (
    add_outbox_parking_and_retention,
    drop_outbox_parking_and_retention,
)

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

SCHEMA = "intake"


def upgrade() -> None:
    add_outbox_parking_and_retention(SCHEMA)


def downgrade() -> None:
    drop_outbox_parking_and_retention(SCHEMA)
