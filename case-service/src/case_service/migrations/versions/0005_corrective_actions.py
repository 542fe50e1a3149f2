"""Cases: supplier and product on each case; corrective actions and their linked cases.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

SCHEMA = "cases"
UUID = postgresql.UUID(as_uuid=True)


def upgrade() -> None:
    op.add_column("cases", sa.Column("supplier", sa.Text), schema=SCHEMA)
    op.add_column("cases", sa.Column("product", sa.Text), schema=SCHEMA)
    op.create_index(
        "ix_cases_supplier_received", "cases", ["supplier", "received_at"], schema=SCHEMA
    )
    op.create_table(
        "corrective_actions",
        sa.Column("id", UUID, primary_key=True),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("description", sa.Text),
        sa.Column("owner", sa.Text),
        sa.Column("due_date", sa.Date),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("supplier", sa.Text),
        sa.Column("product", sa.Text),
        sa.Column("effect", sa.Text),
        sa.Column("source_alert_id", UUID, unique=True),
        sa.Column("created_by", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True)),
        schema=SCHEMA,
    )
    op.create_table(
        "corrective_action_cases",
        sa.Column(
            "action_id", UUID, sa.ForeignKey(f"{SCHEMA}.corrective_actions.id"), nullable=False
        ),
        sa.Column("case_id", UUID, sa.ForeignKey(f"{SCHEMA}.cases.id"), nullable=False),
        sa.PrimaryKeyConstraint("action_id", "case_id"),
        schema=SCHEMA,
    )


def downgrade() -> None:
    op.drop_table("corrective_action_cases", schema=SCHEMA)
    op.drop_table("corrective_actions", schema=SCHEMA)
    op.drop_index("ix_cases_supplier_received", table_name="cases", schema=SCHEMA)
    op.drop_column("cases", "product", schema=SCHEMA)
    op.drop_column("cases", "supplier", schema=SCHEMA)
