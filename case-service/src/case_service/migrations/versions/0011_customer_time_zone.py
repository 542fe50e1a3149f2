"""Customers: the IANA time zone their messages give times in.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

SCHEMA = "cases"


def upgrade() -> None:
    op.add_column(
        "customers",
        sa.Column("time_zone", sa.Text, comment="IANA time zone, e.g. Europe/Bucharest"),
        schema=SCHEMA,
    )


def downgrade() -> None:
    op.drop_column("customers", "time_zone", schema=SCHEMA)
