"""SLA: business calendars, policy calendar/warning/statutory cap, durable case clocks.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

SCHEMA = "cases"
ALWAYS = {day: [["00:00", "24:00"]] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}


def upgrade() -> None:
    calendars = op.create_table(
        "calendars",
        sa.Column("name", sa.Text, primary_key=True),
        sa.Column("time_zone", sa.Text, nullable=False),
        sa.Column("hours", postgresql.JSONB, nullable=False),
        sa.Column("holidays", postgresql.JSONB, nullable=False, server_default="[]"),
        schema=SCHEMA,
    )
    op.bulk_insert(
        calendars, [{"name": "24x7", "time_zone": "UTC", "hours": ALWAYS, "holidays": []}]
    )
    op.add_column(
        "sla_policies",
        sa.Column(
            "calendar",
            sa.Text,
            sa.ForeignKey(f"{SCHEMA}.calendars.name"),
            nullable=False,
            server_default="24x7",
        ),
        schema=SCHEMA,
    )
    op.add_column(
        "sla_policies",
        sa.Column("warning_share", sa.Float, nullable=False, server_default="0.8"),
        schema=SCHEMA,
    )
    op.add_column("sla_policies", sa.Column("statutory_cap", sa.Interval), schema=SCHEMA)
    # Written complaints must be answered within 30 calendar days whatever the pauses.
    op.execute(f"UPDATE {SCHEMA}.sla_policies SET statutory_cap = interval '30 days'")
    op.create_table(
        "case_clocks",
        sa.Column(
            "case_id",
            postgresql.UUID(as_uuid=True),
            sa.ForeignKey(f"{SCHEMA}.cases.id"),
            nullable=False,
        ),
        sa.Column("clock", sa.Text, nullable=False),
        sa.Column("calendar", sa.Text, nullable=False),
        sa.Column("target", sa.Interval, nullable=False),
        sa.Column("warning_share", sa.Float, nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("warn_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cap_at", sa.DateTime(timezone=True)),
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("paused_since", sa.DateTime(timezone=True)),
        sa.Column("paused_total", sa.Interval, nullable=False, server_default="0"),
        sa.Column("stopped_at", sa.DateTime(timezone=True)),
        sa.Column("warning_fired_at", sa.DateTime(timezone=True)),
        sa.Column("breached_at", sa.DateTime(timezone=True)),
        sa.PrimaryKeyConstraint("case_id", "clock"),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_case_clocks_next_fire",
        "case_clocks",
        [sa.text("LEAST(CASE WHEN warning_fired_at IS NULL THEN warn_at END, due_at)")],
        schema=SCHEMA,
        postgresql_where=sa.text("state = 'running'"),
    )


def downgrade() -> None:
    op.drop_table("case_clocks", schema=SCHEMA)
    for column in ("statutory_cap", "warning_share", "calendar"):
        op.drop_column("sla_policies", column, schema=SCHEMA)
    op.drop_table("calendars", schema=SCHEMA)
