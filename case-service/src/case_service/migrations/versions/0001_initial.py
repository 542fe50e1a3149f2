"""Cases: customers, SLA policies (with defaults), cases, history and the platform tables.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from datetime import timedelta

import sqlalchemy as sa
from alembic import op
from redress_shared.migrations import create_platform_tables
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

SCHEMA = "cases"

# Calendar-time defaults; business calendars and per-category policies come later.
DEFAULT_POLICIES = [
    ("urgent-default", "urgent", timedelta(hours=1), timedelta(hours=4), timedelta(days=1)),
    ("high-default", "high", timedelta(hours=4), timedelta(hours=24), timedelta(days=5)),
    ("normal-default", "normal", timedelta(hours=24), timedelta(days=2), timedelta(days=14)),
    ("low-default", "low", timedelta(days=2), timedelta(days=5), timedelta(days=30)),
]


def upgrade() -> None:
    create_platform_tables(SCHEMA)
    op.create_table(
        "customers",
        sa.Column("customer_key", sa.Text, primary_key=True),
        sa.Column("name", sa.Text),
        sa.Column("email", sa.Text),
        sa.Column("phone", sa.Text),
        sa.Column("language", sa.Text),
        sa.Column("tier", sa.Text, nullable=False, server_default="standard"),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_complaint_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("complaint_count", sa.Integer, nullable=False, server_default="0"),
        schema=SCHEMA,
    )
    policies = op.create_table(
        "sla_policies",
        sa.Column("name", sa.Text, primary_key=True),
        sa.Column("priority", sa.Text, nullable=False, unique=True),
        sa.Column("acknowledge_within", sa.Interval, nullable=False),
        sa.Column("first_response_within", sa.Interval, nullable=False),
        sa.Column("resolve_within", sa.Interval, nullable=False),
        schema=SCHEMA,
    )
    op.bulk_insert(
        policies,
        [
            {
                "name": name,
                "priority": priority,
                "acknowledge_within": acknowledge,
                "first_response_within": first_response,
                "resolve_within": resolve,
            }
            for name, priority, acknowledge, first_response, resolve in DEFAULT_POLICIES
        ],
    )
    op.create_table(
        "cases",
        sa.Column("id", postgresql.UUID(as_uuid=True), primary_key=True),
        sa.Column("complaint_id", postgresql.UUID(as_uuid=True), nullable=False, unique=True),
        sa.Column("reference", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("priority", sa.Text, nullable=False),
        sa.Column("category", sa.Text),
        sa.Column("channel", sa.Text, nullable=False),
        sa.Column(
            "customer_key",
            sa.Text,
            sa.ForeignKey(f"{SCHEMA}.customers.customer_key"),
            nullable=False,
        ),
        sa.Column("subject", sa.Text),
        sa.Column("language", sa.Text),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("acknowledge_by", sa.DateTime(timezone=True), nullable=False),
        sa.Column("first_response_by", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolve_by", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sla_policy", sa.Text, nullable=False),
        sa.Column("version", sa.Integer, nullable=False, server_default="1"),
        schema=SCHEMA,
    )
    op.create_index("ix_cases_opened_at_id", "cases", ["opened_at", "id"], schema=SCHEMA)
    op.create_index("ix_cases_customer_key", "cases", ["customer_key"], schema=SCHEMA)
    op.create_table(
        "case_history",
        sa.Column("id", sa.BigInteger, sa.Identity(always=True), primary_key=True),
        sa.Column(
            "case_id",
            postgresql.UUID(as_uuid=True),
            sa.ForeignKey(f"{SCHEMA}.cases.id"),
            nullable=False,
        ),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.Text, nullable=False),
        sa.Column("action", sa.Text, nullable=False),
        sa.Column("before", postgresql.JSONB),
        sa.Column("after", postgresql.JSONB),
        sa.Column("event_id", postgresql.UUID(as_uuid=True)),
        schema=SCHEMA,
    )
    op.create_index("ix_case_history_case_id", "case_history", ["case_id", "id"], schema=SCHEMA)


def downgrade() -> None:
    for table in (
        "case_history",
        "cases",
        "sla_policies",
        "customers",
        "api_keys",
        "inbox",
        "outbox",
    ):
        op.drop_table(table, schema=SCHEMA)
