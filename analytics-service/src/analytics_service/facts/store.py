"""SQL of the fact rows: complaints, cases, case progress, decisions, remedies and surveys.

Every fact is merged with a rule that does not depend on arrival order (first case, earliest
stop time, newest team, highest status version, latest decision, remedy state and survey), so
redelivered, reordered and late events leave the same rows, and a replay from offset 0
rebuilds them.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Row, Table, case, func, or_, select
from sqlalchemy.dialects.postgresql import Insert, insert
from sqlalchemy.ext.asyncio import AsyncSession

from analytics_service import tables
from analytics_service.facts.model import EARLIEST_COLUMNS, EVER_COLUMNS, FIRST_KNOWN_COLUMNS

progress = tables.case_progress


async def lock_complaint(session: AsyncSession, complaint_id: uuid.UUID) -> None:
    """Serialise, until the end of the transaction, the handlers that copy facts between a
    complaint's row and its case's or decisions' rows (the upheld counter, the case's
    priority and tier on the complaint, the receipt time on the case): a complaint and its
    case or decision applied at the same time by two replicas would otherwise each miss the
    other. Whichever waits sees the other's committed rows afterwards (read committed). Two
    batches locking in crossing orders deadlock; PostgreSQL aborts one, which the consumer
    then applies event by event."""
    await session.execute(
        select(func.pg_advisory_xact_lock(func.hashtextextended(str(complaint_id), 0)))
    )


def _from_case(column: str, complaint_id: object):  # noqa: ANN202
    """A column of the complaint's case fact row (the first case recorded), as SQL."""
    cases = tables.case_facts
    return select(cases.c[column]).where(cases.c.complaint_id == complaint_id).scalar_subquery()


async def insert_complaint(session: AsyncSession, **values: Any) -> bool:
    """Insert a complaint's fact row (a repeat changes nothing); whether it is new. The
    opening priority and customer tier of the complaint's case are copied if it came first."""
    complaint_id = values["complaint_id"]
    inserted = await session.scalar(
        insert(tables.complaint_facts)
        .values(
            **values,
            priority=_from_case("priority", complaint_id),
            customer_tier=_from_case("customer_tier", complaint_id),
        )
        .on_conflict_do_nothing(index_elements=["complaint_id"])
        .returning(tables.complaint_facts.c.complaint_id)
    )
    return inserted is not None


async def insert_case(session: AsyncSession, **values: Any) -> None:
    """Insert a case's fact row, and copy its priority and customer tier onto the complaint's
    fact row (if the complaint came first) so that priority trends and the per-tier figure
    need no join. Either order ends with the values of the first case recorded for the
    complaint, as the join gave."""
    await session.execute(
        insert(tables.case_facts)
        .values(**values)
        # Any conflict: a repeat of this case, or (should the case service ever misbehave)
        # a second case for the same complaint; the first one counts.
        .on_conflict_do_nothing()
    )
    complaints, cases = tables.complaint_facts, tables.case_facts
    await session.execute(
        complaints.update()
        .where(
            complaints.c.complaint_id == values["complaint_id"],
            cases.c.complaint_id == complaints.c.complaint_id,
            or_(
                complaints.c.priority.is_distinct_from(cases.c.priority),
                complaints.c.customer_tier.is_distinct_from(cases.c.customer_tier),
            ),
        )
        .values(priority=cases.c.priority, customer_tier=cases.c.customer_tier)
    )


def complaint_receipt(complaint_id: uuid.UUID):  # noqa: ANN201
    """The complaint's receipt time (when the clocks start), as SQL; null before it is known."""
    complaints = tables.complaint_facts
    return (
        select(complaints.c.received_at)
        .where(complaints.c.complaint_id == complaint_id)
        .scalar_subquery()
    )


async def merge_progress(session: AsyncSession, case_id: Any, **values: Any) -> None:
    """Upsert one case's progress row, merging each given column by its rule."""
    statement = insert(progress).values(case_id=case_id, **values)
    excluded = statement.excluded
    merged: dict[str, Any] = {}
    for column in values:
        if column in EARLIEST_COLUMNS:
            merged[column] = func.least(progress.c[column], excluded[column])
        elif column in FIRST_KNOWN_COLUMNS:
            merged[column] = func.coalesce(progress.c[column], excluded[column])
        elif column in EVER_COLUMNS:
            merged[column] = progress.c[column] | excluded[column]
    if "team" in values:
        newer_team = or_(
            progress.c.team_changed_at.is_(None),
            excluded.team_changed_at >= progress.c.team_changed_at,
        )
        merged["team"] = case((newer_team, excluded.team), else_=progress.c.team)
        merged["team_changed_at"] = func.greatest(
            progress.c.team_changed_at, excluded.team_changed_at
        )
    if "status" in values:
        newer_status = or_(
            progress.c.status_version.is_(None),
            excluded.status_version > progress.c.status_version,
        )
        merged["status"] = case((newer_status, excluded.status), else_=progress.c.status)
        merged["status_version"] = func.greatest(progress.c.status_version, excluded.status_version)
    await session.execute(statement.on_conflict_do_update(index_elements=["case_id"], set_=merged))


async def copy_receipt_to_case(
    session: AsyncSession, complaint_id: uuid.UUID, received_at: datetime
) -> None:
    """Copy a complaint's receipt time onto its case's progress row, if the case came first
    (so the SLA figures need no join)."""
    await session.execute(
        progress.update()
        .where(progress.c.complaint_id == complaint_id, progress.c.received_at.is_(None))
        .values(received_at=received_at)
    )


def _keep_newest(
    table: Table, key: str, newer_by: str, values: dict[str, Any], owner: str | None = None
) -> Insert:
    """Insert a row, or replace the stored one only when this one is newer by ``newer_by``
    (a late, older change does not overwrite a newer one); the ``owner`` it belongs to
    stays as first recorded."""
    statement = insert(table).values(**values)
    excluded = statement.excluded
    return statement.on_conflict_do_update(
        index_elements=[key],
        set_={column: excluded[column] for column in values if column not in (key, owner)},
        where=table.c[newer_by] < excluded[newer_by],
    )


async def upsert_remedy(session: AsyncSession, **values: Any) -> None:
    """Keep each remedy's newest state."""
    await session.execute(
        _keep_newest(tables.remedy_facts, "remedy_id", "changed_at", values, owner="case_id")
    )


async def upsert_satisfaction(session: AsyncSession, **values: Any) -> datetime | None:
    """Keep each case's newest satisfaction survey; when the survey it replaces (or not, if
    that one is newer) was recorded, ``None`` for a case's first."""
    facts = tables.satisfaction_facts
    replaced = await session.scalar(
        select(facts.c.recorded_at).where(facts.c.case_id == values["case_id"])
    )
    await session.execute(_keep_newest(facts, "case_id", "recorded_at", values))
    return replaced


async def complaint_of_case(session: AsyncSession, case_id: uuid.UUID) -> uuid.UUID | None:
    """The complaint a recorded case belongs to."""
    cases = tables.case_facts
    return await session.scalar(select(cases.c.complaint_id).where(cases.c.case_id == case_id))


async def complaint_with_decision(
    session: AsyncSession, complaint_id: uuid.UUID, case_id: uuid.UUID
) -> Row | None:
    """The complaint's supplier and receipt, and the case's decision as it stands (validity,
    root cause), in one round trip; ``None`` while the complaint is unknown."""
    facts, complaints = tables.decision_facts, tables.complaint_facts
    return (
        await session.execute(
            select(
                complaints.c.supplier,
                complaints.c.received_at,
                select(facts.c.validity)
                .where(facts.c.case_id == case_id)
                .scalar_subquery()
                .label("validity"),
                select(facts.c.root_cause)
                .where(facts.c.case_id == case_id)
                .scalar_subquery()
                .label("root_cause"),
            ).where(complaints.c.complaint_id == complaint_id)
        )
    ).first()


async def upsert_decision(session: AsyncSession, **values: Any) -> Row | None:
    """Keep the case's latest decision; its stored (validity, root cause) when this one was
    stored, ``None`` when a newer decision was already there."""
    facts = tables.decision_facts
    statement = _keep_newest(facts, "case_id", "decided_at", values, owner="complaint_id")
    return (
        await session.execute(statement.returning(facts.c.validity, facts.c.root_cause))
    ).first()
