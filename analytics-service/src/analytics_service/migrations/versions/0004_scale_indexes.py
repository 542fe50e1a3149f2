"""Analytics at scale: index-only scans for the figure queries.

The trend query reads, over the asked range, the receipt time and one dimension of every
complaint; with those columns in the index it is answered from the index alone, without a
heap fetch per complaint (the one-million-complaint benchmark measured a year's daily trend
going from one heap page per row to none). The priority trend joins each complaint to its
case's priority, and the supplier-defect figure each complaint to its decision's validity and
root cause, each answered from a covering index the same way.

Revision ID: 0004_scale
Revises: 0003_figures
Create Date: 2026-12-01
"""

from alembic import op

revision = "0004_scale"
down_revision = "0003_figures"
branch_labels = None
depends_on = None

SCHEMA = "analytics"
TREND_COLUMNS = ["category", "channel", "product", "supplier", "language", "region", "complaint_id"]


def upgrade() -> None:
    op.drop_index("ix_complaint_facts_received_at", table_name="complaint_facts", schema=SCHEMA)
    op.create_index(
        "ix_complaint_facts_received_at",
        "complaint_facts",
        ["received_at"],
        schema=SCHEMA,
        postgresql_include=TREND_COLUMNS,
    )
    op.create_index(
        "ix_case_facts_complaint_priority",
        "case_facts",
        ["complaint_id"],
        schema=SCHEMA,
        postgresql_include=["priority"],
    )
    op.create_index(
        "ix_decision_facts_complaint_outcome",
        "decision_facts",
        ["complaint_id"],
        schema=SCHEMA,
        postgresql_include=["validity", "root_cause"],
    )


def downgrade() -> None:
    op.drop_index("ix_decision_facts_complaint_outcome", table_name="decision_facts", schema=SCHEMA)
    op.drop_index("ix_case_facts_complaint_priority", table_name="case_facts", schema=SCHEMA)
    op.drop_index("ix_complaint_facts_received_at", table_name="complaint_facts", schema=SCHEMA)
    op.create_index(
        "ix_complaint_facts_received_at", "complaint_facts", ["received_at"], schema=SCHEMA
    )
