"""Cases: teams, routing rules, and each case's team and assignee.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

SCHEMA = "cases"


def upgrade() -> None:
    teams = op.create_table(
        "teams",
        sa.Column("name", sa.Text, primary_key=True),
        sa.Column("lead", sa.Text, nullable=False),
        schema=SCHEMA,
    )
    op.bulk_insert(teams, [{"name": "general", "lead": "general-lead"}])
    op.create_table(
        "routing_rules",
        sa.Column("position", sa.Integer, primary_key=True),
        sa.Column("team", sa.Text, sa.ForeignKey(f"{SCHEMA}.teams.name"), nullable=False),
        sa.Column("category", sa.Text),
        sa.Column("product", sa.Text),
        sa.Column("language", sa.Text),
        sa.Column("channel", sa.Text),
        sa.Column("tier", sa.Text),
        schema=SCHEMA,
    )
    op.add_column("cases", sa.Column("team", sa.Text), schema=SCHEMA)
    op.add_column("cases", sa.Column("assignee", sa.Text), schema=SCHEMA)
    op.create_index("ix_cases_team_assignee", "cases", ["team", "assignee"], schema=SCHEMA)


def downgrade() -> None:
    op.drop_index("ix_cases_team_assignee", table_name="cases", schema=SCHEMA)
    op.drop_column("cases", "assignee", schema=SCHEMA)
    op.drop_column("cases", "team", schema=SCHEMA)
    op.drop_table("routing_rules", schema=SCHEMA)
    op.drop_table("teams", schema=SCHEMA)
