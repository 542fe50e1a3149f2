"""The version of what opening a case reads (SLA policies, business calendars, routing
rules): one counter, bumped by a trigger in the same transaction as any change of those
tables, so the consumer can keep them in memory and see an edit the moment it commits.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

SCHEMA = "cases"
WATCHED = ("sla_policies", "calendars", "routing_rules")


def upgrade() -> None:
    version = op.create_table(
        "opening_settings_version",
        sa.Column("single", sa.Boolean, primary_key=True, server_default=sa.true()),
        sa.Column("version", sa.BigInteger, nullable=False),
        sa.CheckConstraint("single", name="one_row"),
        schema=SCHEMA,
    )
    op.bulk_insert(version, [{"single": True, "version": 1}])
    # A trigger rather than the use cases bumping it: an edit made with plain SQL by an
    # operator counts too. Per statement, so replacing every routing rule bumps it once.
    op.execute(
        f"""
        CREATE FUNCTION "{SCHEMA}".bump_opening_settings_version() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            UPDATE "{SCHEMA}".opening_settings_version SET version = version + 1;
            RETURN NULL;
        END $$
        """
    )
    for table in WATCHED:
        op.execute(
            f"CREATE TRIGGER {table}_opening_settings_changed "
            f'AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON "{SCHEMA}".{table} '
            f'FOR EACH STATEMENT EXECUTE FUNCTION "{SCHEMA}".bump_opening_settings_version()'
        )


def downgrade() -> None:
    for table in WATCHED:
        op.execute(f'DROP TRIGGER {table}_opening_settings_changed ON "{SCHEMA}".{table}')
    op.execute(f'DROP FUNCTION "{SCHEMA}".bump_opening_settings_version()')
    op.drop_table("opening_settings_version", schema=SCHEMA)
