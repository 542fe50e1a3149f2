"""SQL of the incidents: the slot counters of each group of similar complaints, the group's
latest receipt, the complaints of a window that just became a spike, the incident alerts near
a batch and their members. Every statement takes a whole batch (arrays), so a batch costs a
bounded number of round trips whatever its size."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from redress_shared.db import Prepared, unnest_params, unnested
from sqlalchemy import (
    ARRAY,
    BigInteger,
    Date,
    DateTime,
    Integer,
    Row,
    Text,
    and_,
    bindparam,
    func,
    or_,
    select,
    true,
)
from sqlalchemy.dialects.postgresql import UUID, insert
from sqlalchemy.ext.asyncio import AsyncSession

from analytics_service import tables
from analytics_service.alerts.model import INCIDENT, IncidentGroup, IncidentScope

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


def _slot_rows():  # noqa: ANN202
    return unnest_params(
        "slots",
        category=Text(),
        value=Text(),
        slot=BigInteger(),
        complaints=Integer(),
        held=Integer(),
    )


def _add_to_slots(given):  # noqa: ANN001, ANN202
    """INSERT ... ON CONFLICT of (category, value, slot, complaints, held) rows into the
    scope's slot counters (the scope a bind parameter)."""
    statement = insert(slots).from_select(
        ["scope", "category", "value", "slot", "complaints", "held"],
        select(
            bindparam("scope", type_=Text()),
            given.c.category,
            given.c.value,
            given.c.slot,
            given.c.complaints,
            given.c.held,
        ),
    )
    return statement.on_conflict_do_update(
        index_elements=[slots.c.scope, slots.c.category, slots.c.value, slots.c.slot],
        set_={
            "complaints": slots.c.complaints + statement.excluded.complaints,
            "held": slots.c.held + statement.excluded.held,
        },
    )


_ADD_TO_SLOTS = Prepared(_add_to_slots(_slot_rows()))


def _slot_values(rows: list[tuple[str, str, int, int, int]]) -> dict[str, list]:
    rows = sorted(rows)  # one lock order for every batch
    names = ("category", "value", "slot", "complaints", "held")
    return {f"slots_{name}": [r[i] for r in rows] for i, name in enumerate(names)}


async def add_to_slots(
    session: AsyncSession, scope: IncidentScope, rows: list[tuple[str, str, int, int, int]]
) -> None:
    """Add (category, value, slot, complaints, held) to the group's slot counters."""
    if rows:
        await _ADD_TO_SLOTS.execute(session, scope=scope.value, **_slot_values(rows))


def _count_arrivals_statement() -> Prepared:
    scope = bindparam("scope", type_=Text())
    given = unnest_params(
        "groups", category=Text(), value=Text(), latest_at=DateTime(timezone=True)
    )
    before = (
        select(groups.c.category, groups.c.value, groups.c.latest_at)
        .join(
            given,
            and_(groups.c.category == given.c.category, groups.c.value == given.c.value),
        )
        .where(groups.c.scope == scope)
        .cte("before")
    )
    counted = _add_to_slots(_slot_rows()).cte("counted")
    statement = insert(groups).from_select(
        ["scope", "category", "value", "latest_at"],
        select(scope, given.c.category, given.c.value, given.c.latest_at),
    )
    touched = statement.on_conflict_do_update(
        index_elements=[groups.c.scope, groups.c.category, groups.c.value],
        set_={"latest_at": func.greatest(groups.c.latest_at, statement.excluded.latest_at)},
    ).cte("touched")
    return Prepared(select(before).add_cte(counted).add_cte(touched))


_COUNT_ARRIVALS = _count_arrivals_statement()


async def count_arrivals(
    session: AsyncSession,
    scope: IncidentScope,
    rows: list[tuple[str, str, int, int, int]],
    latest: dict[GroupKey, datetime],
) -> dict[GroupKey, datetime]:
    """In one statement: add (category, value, slot, complaints, held) to the groups' slot
    counters, and move each group's latest receipt forward; the latest receipts before, by
    group (the statement's snapshot: as they were before it)."""
    keys = sorted(latest)
    found = await _COUNT_ARRIVALS.fetch(
        session,
        scope=scope.value,
        **_slot_values(rows),
        groups_category=[k[0] for k in keys],
        groups_value=[k[1] for k in keys],
        groups_latest_at=[latest[k] for k in keys],
    )
    return {(row["category"], row["value"]): row["latest_at"] for row in found}


def _slot_counts_statement() -> Prepared:
    given = unnest_params(
        "ranges", category=Text(), value=Text(), low=BigInteger(), high=BigInteger()
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
    return Prepared(query.where(slots.c.scope == bindparam("scope", type_=Text())))


_SLOT_COUNTS = _slot_counts_statement()


async def slot_counts(
    session: AsyncSession, scope: IncidentScope, ranges: list[tuple[str, str, int, int]]
) -> list:
    """(category, value, slot, counted) of the groups' slots in the inclusive slot ranges;
    ``counted`` leaves out what a product incident holds."""
    return await _SLOT_COUNTS.fetch(
        session,
        scope=scope.value,
        ranges_category=[r[0] for r in ranges],
        ranges_value=[r[1] for r in ranges],
        ranges_low=[r[2] for r in ranges],
        ranges_high=[r[3] for r in ranges],
    )


def _baselines_statement() -> Prepared:
    given = unnest_params("windows", category=Text(), value=Text(), first=BigInteger())
    span = bindparam("span", type_=BigInteger())
    total = (
        select(func.coalesce(func.sum(slots.c.complaints), 0))
        .where(
            slots.c.scope == bindparam("scope", type_=Text()),
            slots.c.category == given.c.category,
            slots.c.value == given.c.value,
            slots.c.slot >= given.c.first - span,
            slots.c.slot < given.c.first,
        )
        .scalar_subquery()
    )
    return Prepared(select(given.c.category, given.c.value, given.c.first, total))


_BASELINES = _baselines_statement()


async def baselines(
    session: AsyncSession, scope: IncidentScope, windows: list[tuple[str, str, int]], span: int
) -> list:
    """(category, value, first slot, baseline) of each window: the group's complaints in the
    ``span`` slots before the window."""
    return await _BASELINES.fetch(
        session,
        scope=scope.value,
        span=span,
        windows_category=[w[0] for w in windows],
        windows_value=[w[1] for w in windows],
        windows_first=[w[2] for w in windows],
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


def _incidents_near_statement() -> Prepared:
    given = unnest_params(
        "near",
        subject=Text(),
        low=DateTime(timezone=True),
        high=DateTime(timezone=True),
        first_day=Date(),
        last_day=Date(),
    )
    query = (
        select(alerts)
        .join(
            given,
            and_(
                alerts.c.kind == INCIDENT,
                alerts.c.subject == given.c.subject,
                alerts.c.attribution == bindparam("attribution", type_=Text()),
                or_(
                    and_(
                        alerts.c.last_member_at >= given.c.low,
                        alerts.c.first_member_at <= given.c.high,
                    ),
                    alerts.c.period_start.between(given.c.first_day, given.c.last_day),
                ),
            ),
        )
        .order_by(alerts.c.id)
        .with_for_update(of=alerts)
    )
    return Prepared(query)


_INCIDENTS_NEAR = _incidents_near_statement()


async def incidents_near(
    session: AsyncSession,
    scope: IncidentScope,
    spans: dict[GroupKey, tuple[datetime, datetime]],
    window: timedelta,
) -> dict[GroupKey, list]:
    """Each group's incidents a spike between its (start, end) may continue (members within
    a window of it, or of one of its days), locked (in one order), by group."""
    keys = sorted(spans)
    subjects = {IncidentGroup(scope, *key).subject: key for key in keys}
    rows = await _INCIDENTS_NEAR.fetch(
        session,
        attribution=scope.value,
        near_subject=list(subjects),
        near_low=[spans[k][0] - 2 * window for k in keys],
        near_high=[spans[k][1] + 2 * window for k in keys],
        near_first_day=[(spans[k][0] - window).date() for k in keys],
        near_last_day=[spans[k][1].date() for k in keys],
    )
    found: dict[GroupKey, list] = {key: [] for key in keys}
    for row in rows:
        found[subjects[row["subject"]]].append(row)
    return found


def _add_members_statement() -> Prepared:
    given = unnest_params("pairs", alert_id=UUID(as_uuid=True), complaint_id=UUID(as_uuid=True))
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
    return Prepared(select(added.c.alert_id, added.c.complaint_id, was_held.label("was_held")))


_ADD_MEMBERS = _add_members_statement()


async def add_members(session: AsyncSession, pairs: list[tuple[uuid.UUID, uuid.UUID]]) -> list:
    """Add (alert_id, complaint_id) members (once each); the pairs added (``alert_id``,
    ``complaint_id``), each with whether a product incident held the complaint before
    (``was_held``)."""
    if not pairs:
        return []
    pairs = sorted(pairs)
    return await _ADD_MEMBERS.fetch(
        session,
        pairs_alert_id=[p[0] for p in pairs],
        pairs_complaint_id=[p[1] for p in pairs],
    )


INCIDENT_COLUMNS = {
    "id": UUID(as_uuid=True),
    "subject": Text(),
    "attribution": Text(),
    "period_start": Date(),
    "period_end": Date(),
    "count": Integer(),
    "threshold": Integer(),
    "raised_at": DateTime(timezone=True),
    "cleared_at": DateTime(timezone=True),
    "first_member_at": DateTime(timezone=True),
    "last_member_at": DateTime(timezone=True),
}


def _update_incidents_statement() -> Prepared:
    given = unnest_params("incidents", **INCIDENT_COLUMNS)
    return Prepared(
        alerts.update()
        .where(alerts.c.id == given.c.id)
        .values({column: given.c[column] for column in INCIDENT_COLUMNS if column != "id"})
    )


_UPDATE_INCIDENTS = _update_incidents_statement()


async def update_incidents(session: AsyncSession, rows: list[dict]) -> None:
    """Change incident alert rows (every column of ``INCIDENT_COLUMNS``, by id)."""
    if rows:
        rows = sorted(rows, key=lambda row: row["id"])  # one lock order
        await _UPDATE_INCIDENTS.execute(
            session, **{f"incidents_{c}": [row[c] for row in rows] for c in INCIDENT_COLUMNS}
        )


_OPEN_INCIDENTS = Prepared(
    select(alerts)
    .where(
        alerts.c.kind == INCIDENT,
        alerts.c.cleared_at.is_(None),
        alerts.c.id != func.all(bindparam("besides", type_=ARRAY(UUID(as_uuid=True)))),
    )
    .order_by(alerts.c.id)
    .with_for_update()
)


async def open_incidents(session: AsyncSession, besides: set[uuid.UUID]) -> list:
    """The incidents not cleared (but those in ``besides``), locked."""
    return await _OPEN_INCIDENTS.fetch(session, besides=list(besides))


def _latest_of_statement() -> Prepared:
    given = unnest_params("wanted", scope=Text(), category=Text(), value=Text())
    return Prepared(
        select(groups.c.scope, groups.c.category, groups.c.value, groups.c.latest_at).join(
            given,
            and_(
                groups.c.scope == given.c.scope,
                groups.c.category == given.c.category,
                groups.c.value == given.c.value,
            ),
        )
    )


_LATEST_OF = _latest_of_statement()


async def latest_of(session: AsyncSession, wanted: list[IncidentGroup]) -> dict:
    """The latest receipt of each group (by scope, category and value)."""
    if not wanted:
        return {}
    rows = await _LATEST_OF.fetch(
        session,
        wanted_scope=[g.scope.value for g in wanted],
        wanted_category=[g.category for g in wanted],
        wanted_value=[g.value for g in wanted],
    )
    return {(r["scope"], r["category"], r["value"]): r["latest_at"] for r in rows}
