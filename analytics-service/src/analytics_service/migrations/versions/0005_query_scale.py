"""Analytics at scale, second step: priority trends without a join, constant-cost supplier
alerts, and indexes for the SLA, outcome and customer figures.

- ``complaint_facts.priority`` and ``customer_tier``: the opening priority and customer tier
  of the complaint's case (``case_facts`` keeps the tier now too), kept on the complaint's row
  (back-filled) and in the covering receipt-time index, so a priority trend and the per-tier
  customer figure are index-only scans without a join.
- ``case_progress.received_at``: the complaint's receipt (when the SLA clocks start), so the
  SLA figures need no join to every complaint; ``ix_case_progress_opened_at`` covers what the
  SLA and outcome figures read of a cohort (index-only scans), and ``complaint_id`` is indexed
  for the handlers that copy facts onto the case.
- ``supplier_defect_counts``: upheld, attributed decisions per supplier, month and
  attribution, kept by the handlers (back-filled here), so that evaluating a supplier's alert
  reads one row instead of counting the supplier's month at every decision.

Revision ID: 0005_query_scale
Revises: 0004_scale
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_query_scale"
down_revision = "0004_scale"
branch_labels = None
depends_on = None

SCHEMA = "analytics"
TREND_COLUMNS = [
    "category",
    "channel",
    "product",
    "supplier",
    "language",
    "region",
    "priority",
    "complaint_id",
    "customer_key",
    "customer_tier",
]
OLD_TREND_COLUMNS = ["category", "channel", "product", "supplier", "language", "region"]
OLD_TREND_COLUMNS += ["complaint_id"]  # as 0004_scale left it
PROGRESS_COHORT_COLUMNS = [
    "case_id",
    "priority",
    "team",
    "received_at",
    "acknowledged_at",
    "first_responded_at",
    "resolved_at",
    "acknowledge_due_at",
    "first_response_due_at",
    "resolve_due_at",
    "acknowledge_breached_at",
    "first_response_breached_at",
    "resolve_breached_at",
    "was_paused",
    "reopened",
]
# Frozen copy of models.ROOT_CAUSE_ATTRIBUTION and UPHELD_VALIDITIES as of this revision.
ATTRIBUTION_SQL = """CASE
    WHEN d.root_cause IN ('supplier_component', 'supplier') THEN 'supplier_component'
    WHEN d.root_cause IN ('manufacturing', 'manufacturer_fault', 'manufacturing_defect')
        THEN 'manufacturing'
END"""


def upgrade() -> None:
    op.add_column("case_facts", sa.Column("customer_tier", sa.Text), schema=SCHEMA)
    op.execute(
        f"UPDATE {SCHEMA}.case_facts AS c SET customer_tier = p.customer_tier "
        f"FROM {SCHEMA}.case_progress AS p WHERE p.case_id = c.case_id"
    )
    op.add_column("complaint_facts", sa.Column("priority", sa.Text), schema=SCHEMA)
    op.add_column("complaint_facts", sa.Column("customer_tier", sa.Text), schema=SCHEMA)
    op.execute(
        f"UPDATE {SCHEMA}.complaint_facts AS f "
        f"SET priority = c.priority, customer_tier = c.customer_tier "
        f"FROM {SCHEMA}.case_facts AS c WHERE c.complaint_id = f.complaint_id"
    )
    op.drop_index("ix_complaint_facts_received_at", table_name="complaint_facts", schema=SCHEMA)
    op.create_index(
        "ix_complaint_facts_received_at",
        "complaint_facts",
        ["received_at"],
        schema=SCHEMA,
        postgresql_include=TREND_COLUMNS,
    )
    op.add_column(
        "case_progress", sa.Column("received_at", sa.DateTime(timezone=True)), schema=SCHEMA
    )
    op.execute(
        f"UPDATE {SCHEMA}.case_progress AS p SET received_at = f.received_at "
        f"FROM {SCHEMA}.complaint_facts AS f WHERE f.complaint_id = p.complaint_id"
    )
    op.create_index("ix_case_progress_complaint", "case_progress", ["complaint_id"], schema=SCHEMA)
    op.drop_index("ix_case_progress_opened_at", table_name="case_progress", schema=SCHEMA)
    op.create_index(
        "ix_case_progress_opened_at",
        "case_progress",
        ["opened_at"],
        schema=SCHEMA,
        postgresql_include=PROGRESS_COHORT_COLUMNS,
    )
    op.create_table(
        "supplier_defect_counts",
        sa.Column("supplier", sa.Text, primary_key=True),
        sa.Column("period_start", sa.Date, primary_key=True),
        sa.Column("attribution", sa.Text, primary_key=True),
        sa.Column("upheld", sa.Integer, nullable=False),
        schema=SCHEMA,
    )
    op.execute(
        f"""INSERT INTO {SCHEMA}.supplier_defect_counts
        SELECT supplier, period_start, attribution, count(*) FROM (
            SELECT c.supplier,
                   date_trunc('month', c.received_at AT TIME ZONE 'UTC')::date AS period_start,
                   {ATTRIBUTION_SQL} AS attribution
            FROM {SCHEMA}.complaint_facts AS c
            JOIN {SCHEMA}.decision_facts AS d ON d.complaint_id = c.complaint_id
            WHERE c.supplier IS NOT NULL AND d.validity IN ('justified', 'partly_justified')
        ) AS upheld
        WHERE attribution IS NOT NULL
        GROUP BY supplier, period_start, attribution"""
    )


def downgrade() -> None:
    op.drop_table("supplier_defect_counts", schema=SCHEMA)
    op.drop_index("ix_case_progress_opened_at", table_name="case_progress", schema=SCHEMA)
    op.create_index("ix_case_progress_opened_at", "case_progress", ["opened_at"], schema=SCHEMA)
    op.drop_index("ix_case_progress_complaint", table_name="case_progress", schema=SCHEMA)
    op.drop_column("case_progress", "received_at", schema=SCHEMA)
    op.drop_index("ix_complaint_facts_received_at", table_name="complaint_facts", schema=SCHEMA)
    op.create_index(
        "ix_complaint_facts_received_at",
        "complaint_facts",
        ["received_at"],
        schema=SCHEMA,
        postgresql_include=OLD_TREND_COLUMNS,
    )
    op.drop_column("complaint_facts", "customer_tier", schema=SCHEMA)
    op.drop_column("complaint_facts", "priority", schema=SCHEMA)
    op.drop_column("case_facts", "customer_tier", schema=SCHEMA)
