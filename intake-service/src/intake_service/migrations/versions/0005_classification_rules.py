"""A desk's own classification rules per language (``classification_rules``) and their
append-only history (``classification_rule_changes``).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

SCHEMA = "intake"


def upgrade() -> None:
    op.create_table(
        "classification_rules",
        sa.Column("language", sa.Text, primary_key=True, comment="ISO 639-1 code"),
        sa.Column("rules", JSONB, nullable=False, comment="categories, signals, disabled keywords"),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.Text, nullable=False),
        schema=SCHEMA,
    )
    op.create_table(
        "classification_rule_changes",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=True),
        sa.Column("language", sa.Text, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("rules", JSONB, nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("changed_by", sa.Text, nullable=False),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_classification_rule_changes_language",
        "classification_rule_changes",
        ["language", "version"],
        unique=True,
        schema=SCHEMA,
    )


def downgrade() -> None:
    op.drop_table("classification_rule_changes", schema=SCHEMA)
    op.drop_table("classification_rules", schema=SCHEMA)
