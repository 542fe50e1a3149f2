"""Cases: the complaint in the customer's own words (for duplicate suggestions and the card).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

SCHEMA = "cases"


def upgrade() -> None:
    op.add_column("cases", sa.Column("body", sa.Text), schema=SCHEMA)
    # Duplicate suggestions look at one customer's recent cases.
    op.create_index(
        "ix_cases_customer_key_received_at", "cases", ["customer_key", "received_at"], schema=SCHEMA
    )


def downgrade() -> None:
    op.drop_index("ix_cases_customer_key_received_at", "cases", schema=SCHEMA)
    op.drop_column("cases", "body", schema=SCHEMA)
