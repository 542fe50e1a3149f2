"""Parked outbox rows (``outbox.parked_at``, ``outbox.park_reason``) and the indexes the
retention loop deletes published outbox rows and old inbox ids by.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02
"""

from redress_shared.migrations import (
    add_outbox_parking_and_retention,
    drop_outbox_parking_and_retention,
)

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

SCHEMA = "cases"


def upgrade() -> None:
    add_outbox_parking_and_retention(SCHEMA)


def downgrade() -> None:
    drop_outbox_parking_and_retention(SCHEMA)
