"""SQL of the incidents: the slot counters of each group of similar complaints, the group's
latest receipt, the complaints of a window that just became a spike, the incident alerts near
a batch and their members. Every statement takes a whole batch (arrays), so a batch costs a
bounded number of round trips whatever its size."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from redress_shared.db import unnested
from sqlalchemy import (
    BigInteger,
    DateTime,
    Integer,
    Row,
    Text,
    and_,
    func,
    literal,
    or_,
    select,
    true,
)
from sqlalchemy.dialects.postgresql import UUID, insert
from sqlalchemy.ext.asyncio import AsyncSession

from analytics_service import tables
from analytics_service.alerts.model import INCIDENT, IncidentGroup, IncidentScope
from analytics_service.alerts.store import of_condition

facts = tables.complaint_facts
alerts = tables.alerts
members_table = tables.incident_members
slots = tables.incident_slots
groups = tables.incident_groups

GroupKey = tuple[str, str]  # (category, value)


def _product_held(complaint_id):  # noqa: ANN001, ANN202
    """Whether a product incident holds the complaint, as SQL."""
    return (
        select(members_table.c.complaint_id)
        .join(alerts, alerts.c.id == members_table.c.alert_id)
        .where(
            members_table.c.complaint_id == complaint_id,
            alerts.c.kind == INCIDENT,
            alerts.c.attribution == IncidentScope.PRODUCT.value,
        )
        .exists()
    )


async def add_to_slots(
    session: AsyncSession, scope: IncidentScope, rows: list[tuple[str, str, int, int, int]]
) -> None:
    """Add (category, value, slot, complaints, held) to the group's slot counters."""
    if not rows:
        return
    rows = sorted(rows)  # one lock order for every batch
    given = unnested(
        "given",
        category=(Text(), [r[0] for r in rows]),
        value=(Text(), [r[1] for r in rows]),
        slot=(BigInteger(), [r[2] for r in rows]),
        complaints=(Integer(), [r[3] for r in rows]),
        held=(Integer(), [r[4] for r in rows]),
    )
    statement = insert(slots).from_select(
        ["scope", "category", "value", "slot", "complaints", "held"],
        select(
            literal(scope.value),
            given.c.category,
            given.c.value,
            given.c.slot,
            given.c.complaints,
            given.c.held,
        ),
    )
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[slots.c.scope, slots.c.category, slots.c.value, slots.c.slot],
            set_={
                "complaints": slots.c.complaints + statement.excluded.complaints,
                "held": slots.c.held + statement.excluded.held,
            },
        )
    )


async def touch_groups(
    session: AsyncSession, scope: IncidentScope, latest: dict[GroupKey, datetime]
) -> dict[GroupKey, datetime]:
    """Move each group's latest receipt forward; the latest receipts before, by group."""
    keys = sorted(latest)
    given = unnested(
        "given",
        category=(Text(), [k[0] for k in keys]),
        value=(Text(), [k[1] for k in keys]),
        latest_at=(DateTime(timezone=True), [latest[k] for k in keys]),
    )
    before = dict(
        ((row.category, row.value), row.latest_at)
        for row in await session.execute(
            select(groups.c.category, groups.c.value, groups.c.latest_at)
            .join(
                given,
                and_(groups.c.category == given.c.category, groups.c.value == given.c.value),
            )
            .where(groups.c.scope == scope.value)
        )
    )
    statement = insert(groups).from_select(
        ["scope", "category", "value", "latest_at"],
        select(literal(scope.value), given.c.category, given.c.value, given.c.latest_at),
    )
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[groups.c.scope, groups.c.category, groups.c.value],
            set_={"latest_at": func.greatest(groups.c.latest_at, statement.excluded.latest_at)},
        )
    )
    return before


async def slot_counts(
    session: AsyncSession, scope: IncidentScope, ranges: list[tuple[str, str, int, int]]
) -> list[Row]:
    """(category, value, slot, counted) of the groups' slots in the inclusive slot ranges;
    ``counted`` leaves out what a product incident holds."""
    given = unnested(
        "given",
        category=(Text(), [r[0] for r in ranges]),
        value=(Text(), [r[1] for r in ranges]),
        low=(BigInteger(), [r[2] for r in ranges]),
        high=(BigInteger(), [r[3] for r in ranges]),
    )
    query = select(
        slots.c.category, slots.c.value, slots.c.slot, (slots.c.complaints - slots.c.held)
    ).join(
        given,
        and_(
            slots.c.category == given.c.category,
            slots.c.value == given.c.value,
            slots.c.slot >= given.c.low,
            slots.c.slot <= given.c.high,
        ),
    )
    return list((await session.execute(query.where(slots.c.scope == scope.value))).all())


async def baselines(
    session: AsyncSession, scope: IncidentScope, windows: list[tuple[str, str, int]], span: int
) -> list[Row]:
    """(category, value, first slot, baseline) of each window: the group's complaints in the
    ``span`` slots before the window."""
    given = unnested(
        "given",
        category=(Text(), [w[0] for w in windows]),
        value=(Text(), [w[1] for w in windows]),
        first=(BigInteger(), [w[2] for w in windows]),
    )
    total = (
        select(func.coalesce(func.sum(slots.c.complaints), 0))
        .where(
            slots.c.scope == scope.value,
            slots.c.category == given.c.category,
            slots.c.value == given.c.value,
            slots.c.slot >= given.c.first - span,
            slots.c.slot < given.c.first,
        )
        .scalar_subquery()
    )
    return list(
        (await session.execute(select(given.c.category, given.c.value, given.c.first, total))).all()
    )


async def window_complaints(
    session: AsyncSession,
    scope: IncidentScope,
    ranges: list[tuple[str, str, datetime, datetime]],
) -> list[Row]:
    """The complaints a group's windows count in [start, end) of each range (a regional
    window does not count what a product incident holds): category, value, complaint_id,
    received_at and region."""
    given = unnested(
        "given",
        category=(Text(), [r[0] for r in ranges]),
        value=(Text(), [r[1] for r in ranges]),
        start=(DateTime(timezone=True), [r[2] for r in ranges]),
        end=(DateTime(timezone=True), [r[3] for r in ranges]),
    )
    counted = true() if scope is IncidentScope.PRODUCT else ~_product_held(facts.c.complaint_id)
    query = (
        select(
            given.c.category,
            given.c.value,
            facts.c.complaint_id,
            facts.c.received_at,
            facts.c.region,
        )
        .select_from(given)
        .join(
            facts,
            and_(
                facts.c.category == given.c.category,
                facts.c[scope.value] == given.c.value,
                facts.c.received_at >= given.c.start,
                facts.c.received_at < given.c.end,
            ),
        )
        .where(counted)
    )
    return list((await session.execute(query)).all())


async def incidents_near(
    session: AsyncSession, group: IncidentGroup, start: datetime, end: datetime, window: timedelta
) -> list[Row]:
    """The group's incidents a spike between ``start`` and ``end`` may continue (members
    within a window of it, or of one of its days), locked."""
    return list(
        (
            await session.execute(
                select(alerts)
                .where(
                    of_condition(INCIDENT, group.subject, group.scope.value),
                    or_(
                        and_(
                            alerts.c.last_member_at >= start - 2 * window,
                            alerts.c.first_member_at <= end + 2 * window,
                        ),
                        alerts.c.period_start.between((start - window).date(), end.date()),
                    ),
                )
                .order_by(alerts.c.id)
                .with_for_update()
            )
        ).all()
    )


async def add_members(session: AsyncSession, pairs: list[tuple[uuid.UUID, uuid.UUID]]) -> list[Row]:
    """Add (alert_id, complaint_id) members (once each); the pairs added, each with whether
    a product incident held the complaint before."""
    if not pairs:
        return []
    pairs = sorted(pairs)
    given = unnested(
        "given",
        alert_id=(UUID(as_uuid=True), [p[0] for p in pairs]),
        complaint_id=(UUID(as_uuid=True), [p[1] for p in pairs]),
    )
    held_before = (
        select(members_table.c.complaint_id)
        .join(alerts, alerts.c.id == members_table.c.alert_id)
        .where(
            alerts.c.kind == INCIDENT,
            alerts.c.attribution == IncidentScope.PRODUCT.value,
            members_table.c.complaint_id.in_(select(given.c.complaint_id)),
        )
        .cte("held_before")
    )
    added = (
        insert(members_table)
        .from_select(["alert_id", "complaint_id"], select(given.c.alert_id, given.c.complaint_id))
        .on_conflict_do_nothing()
        .returning(members_table.c.alert_id, members_table.c.complaint_id)
        .cte("added")
    )
    was_held = added.c.complaint_id.in_(select(held_before.c.complaint_id))
    return list(
        (
            await session.execute(
                select(added.c.alert_id, added.c.complaint_id, was_held.label("was_held"))
            )
        ).all()
    )


async def open_incidents(session: AsyncSession, besides: set[uuid.UUID]) -> list[Row]:
    """The incidents not cleared (but those in ``besides``), locked."""
    query = select(alerts).where(alerts.c.kind == INCIDENT, alerts.c.cleared_at.is_(None))
    if besides:
        query = query.where(alerts.c.id.not_in(besides))
    return list((await session.execute(query.order_by(alerts.c.id).with_for_update())).all())


async def latest_of(session: AsyncSession, wanted: list[IncidentGroup]) -> dict:
    """The latest receipt of each group (by scope, category and value)."""
    if not wanted:
        return {}
    given = unnested(
        "given",
        scope=(Text(), [g.scope.value for g in wanted]),
        category=(Text(), [g.category for g in wanted]),
        value=(Text(), [g.value for g in wanted]),
    )
    rows = await session.execute(
        select(groups.c.scope, groups.c.category, groups.c.value, groups.c.latest_at).join(
            given,
            and_(
                groups.c.scope == given.c.scope,
                groups.c.category == given.c.category,
                groups.c.value == given.c.value,
            ),
        )
    )
    return {(r.scope, r.category, r.value): r.latest_at for r in rows}
