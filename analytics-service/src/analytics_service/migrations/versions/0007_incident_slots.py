"""Incident detection in constant time per complaint: complaints per incident group and
five-minute slot (``incident_slots``, with the slot's complaints a product incident holds on
the regional rows) and each group's latest receipt (``incident_groups``), back-filled from the
facts and the incidents' members.

Revision ID: 0007_incident_slots
Revises: 0006
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_incident_slots"
down_revision = "0006"
branch_labels = None
depends_on = None

SCHEMA = "analytics"
SLOT_SECONDS = 300


def upgrade() -> None:
    op.create_table(
        "incident_slots",
        sa.Column("scope", sa.Text, primary_key=True),
        sa.Column("category", sa.Text, primary_key=True),
        sa.Column("value", sa.Text, primary_key=True),
        sa.Column("slot", sa.BigInteger, primary_key=True),
        sa.Column("complaints", sa.Integer, nullable=False),
        sa.Column("held", sa.Integer, nullable=False, server_default="0"),
        schema=SCHEMA,
    )
    op.create_table(
        "incident_groups",
        sa.Column("scope", sa.Text, primary_key=True),
        sa.Column("category", sa.Text, primary_key=True),
        sa.Column("value", sa.Text, primary_key=True),
        sa.Column("latest_at", sa.DateTime(timezone=True), nullable=False),
        schema=SCHEMA,
    )
    slot = f"floor(extract(epoch FROM received_at) / {SLOT_SECONDS})::bigint"
    for scope in ("product", "region"):
        op.execute(
            f"INSERT INTO {SCHEMA}.incident_slots (scope, category, value, slot, complaints) "
            f"SELECT '{scope}', category, {scope}, {slot}, count(*) "
            f"FROM {SCHEMA}.complaint_facts WHERE category IS NOT NULL AND {scope} IS NOT NULL "
            "GROUP BY 2, 3, 4"
        )
        op.execute(
            f"INSERT INTO {SCHEMA}.incident_groups (scope, category, value, latest_at) "
            f"SELECT '{scope}', category, {scope}, max(received_at) "
            f"FROM {SCHEMA}.complaint_facts WHERE category IS NOT NULL AND {scope} IS NOT NULL "
            "GROUP BY 2, 3"
        )
    op.execute(
        f"UPDATE {SCHEMA}.incident_slots s SET held = h.held FROM ("
        f"  SELECT c.category, c.region, {slot.replace('received_at', 'c.received_at')} AS slot,"
        "   count(DISTINCT c.complaint_id) AS held"
        f"  FROM {SCHEMA}.complaint_facts c"
        f"  JOIN {SCHEMA}.incident_members m ON m.complaint_id = c.complaint_id"
        f"  JOIN {SCHEMA}.alerts a ON a.id = m.alert_id"
        "   AND a.kind = 'incident' AND a.attribution = 'product'"
        "  WHERE c.category IS NOT NULL AND c.region IS NOT NULL GROUP BY 1, 2, 3"
        ") h WHERE s.scope = 'region' AND s.category = h.category AND s.value = h.region"
        " AND s.slot = h.slot"
    )


def downgrade() -> None:
    op.drop_table("incident_groups", schema=SCHEMA)
    op.drop_table("incident_slots", schema=SCHEMA)
