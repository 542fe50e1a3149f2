"""Customers: the preferred channel, and a version for If-Match on profile updates.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

SCHEMA = "cases"


def upgrade() -> None:
    op.add_column("customers", sa.Column("preferred_channel", sa.Text), schema=SCHEMA)
    op.add_column(
        "customers",
        sa.Column("version", sa.Integer, nullable=False, server_default="1"),
        schema=SCHEMA,
    )
    op.add_column("customers", sa.Column("updated_at", sa.DateTime(timezone=True)), schema=SCHEMA)
    op.add_column("customers", sa.Column("updated_by", sa.Text), schema=SCHEMA)


def downgrade() -> None:
    for column in ("updated_by", "updated_at", "version", "preferred_channel"):
        op.drop_column("customers", column, schema=SCHEMA)
