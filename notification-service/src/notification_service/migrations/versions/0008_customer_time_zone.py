"""The customer's time zone, when case.opened carries one: due times in customer messages are
written in it (else in the desk's ``REDRESS_DEFAULT_TIME_ZONE``).

Revision ID: 0008_customer_time_zone
Revises: 0007_dispatch_claims
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0008_customer_time_zone"
down_revision = "0007_dispatch_claims"
branch_labels = None
depends_on = None

SCHEMA = "notification"


def upgrade() -> None:
    op.add_column(
        "case_contacts",
        sa.Column("time_zone", sa.Text, comment="the customer's IANA time zone, when known"),
        schema=SCHEMA,
    )


def downgrade() -> None:
    op.drop_column("case_contacts", "time_zone", schema=SCHEMA)
