"""Cases: lifecycle columns (closing, reopening, merging).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

SCHEMA = "cases"


def upgrade() -> None:
    op.add_column("cases", sa.Column("closed_at", sa.DateTime(timezone=True)), schema=SCHEMA)
    op.add_column(
        "cases",
        sa.Column("reopen_count", sa.Integer, nullable=False, server_default="0"),
        schema=SCHEMA,
    )
    op.add_column("cases", sa.Column("merged_into", postgresql.UUID(as_uuid=True)), schema=SCHEMA)
    op.add_column("cases", sa.Column("status_before_merge", sa.Text), schema=SCHEMA)


def downgrade() -> None:
    for column in ("status_before_merge", "merged_into", "reopen_count", "closed_at"):
        op.drop_column("cases", column, schema=SCHEMA)
