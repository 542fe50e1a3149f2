"""SQL of the fact rows: complaints, cases, case progress, decisions, remedies and surveys.

Every fact is merged with a rule that does not depend on arrival order (first case, earliest
stop time, newest team, highest status version, latest decision, remedy state and survey), so
redelivered, reordered and late events leave the same rows, and a replay from offset 0
rebuilds them.

Every function takes a whole batch (one array per column, see ``tables.unnested``): a batch
of events costs one statement per table, not one per event. Rows are given at most once per
key (the service merges a batch's repeats first, by the same rules).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from redress_shared.db import Prepared, unnest_params, unnested
from sqlalchemy import (
    Row,
    Table,
    Text,
    and_,
    case,
    func,
    or_,
    select,
    union_all,
)
from sqlalchemy.dialects.postgresql import UUID, insert
from sqlalchemy.ext.asyncio import AsyncSession

from analytics_service import tables
from analytics_service.facts.model import EARLIEST_COLUMNS, EVER_COLUMNS, FIRST_KNOWN_COLUMNS

progress = tables.case_progress


def _given(name: str, table: Table, rows: list[dict[str, Any]], columns: list[str]):  # noqa: ANN202
    """The rows as ``unnest`` of one array per column (typed like the table's columns)."""
    return unnested(
        name,
        **{
            column: (
                table.c[column].type,
                [row.get(column) for row in rows],
            )
            for column in columns
        },
    )


def _arrays(name: str, rows: list[dict[str, Any]], columns: list[str]) -> dict[str, list]:
    """The values of a ``unnest_params(name, ...)``: one array per column, by bind name."""
    return {f"{name}_{column}": [row.get(column) for row in rows] for column in columns}


def _typed(name: str, table: Table, columns: list[str]):  # noqa: ANN202
    """``unnest_params`` of the columns, typed like the table's, bound as ``name_column``."""
    return unnest_params(name, **{column: table.c[column].type for column in columns})


def _lock_statement() -> Prepared:
    given = unnest_params("given", complaint_id=UUID(as_uuid=True))
    keys = (
        select(func.hashtextextended(func.cast(given.c.complaint_id, Text()), 0).label("key"))
        .distinct()
        .order_by("key")
        .subquery()
    )
    return Prepared(select(func.count(func.pg_advisory_xact_lock(keys.c.key))))


_LOCK = _lock_statement()
_LOCKED = "analytics.locked_complaints"  # session.info: (transaction, complaint ids it locked)


async def lock_complaints(session: AsyncSession, complaint_ids: set[uuid.UUID]) -> None:
    """Serialise, until the end of the transaction, the handlers that copy facts between a
    complaint's row and its case's or decisions' rows (the upheld counter, the case's
    priority and tier on the complaint, the receipt time on the case): a complaint and its
    case or decision applied at the same time by two replicas would otherwise each miss the
    other. Whichever waits sees the other's committed rows afterwards (read committed). The
    locks are taken in one order (by key), so two batches do not deadlock on them; a batch
    takes all of its own at once, first (the complaints already locked in this transaction
    are not asked again)."""
    transaction = session.get_transaction()
    held = session.info.get(_LOCKED)
    if held is None or held[0] is not transaction:
        held = session.info[_LOCKED] = (transaction, set())
    wanted = complaint_ids - held[1]
    if not wanted:
        return
    await _LOCK.execute(session, given_complaint_id=list(wanted))
    held[1].update(wanted)


COMPLAINT_COLUMNS = [
    "complaint_id",
    "received_at",
    "channel",
    "category",
    "product",
    "supplier",
    "language",
    "customer_key",
    "region",
]


def _insert_complaints_statement() -> Prepared:
    facts, cases, decisions = tables.complaint_facts, tables.case_facts, tables.decision_facts
    given = _typed("given", facts, COMPLAINT_COLUMNS)
    query = (
        select(*(given.c[c] for c in COMPLAINT_COLUMNS), cases.c.priority, cases.c.customer_tier)
        .select_from(given.outerjoin(cases, cases.c.complaint_id == given.c.complaint_id))
        .order_by(given.c.complaint_id)
    )
    inserted = (
        insert(facts)
        .from_select([*COMPLAINT_COLUMNS, "priority", "customer_tier"], query)
        .on_conflict_do_nothing(index_elements=["complaint_id"])
        .returning(facts.c.complaint_id, facts.c.supplier, facts.c.received_at)
        .cte("inserted")
    )
    # The receipt onto the case's progress row, if the case came first (so the SLA figures
    # need no join).
    receipts = (
        progress.update()
        .where(progress.c.complaint_id == inserted.c.complaint_id, progress.c.received_at.is_(None))
        .values(received_at=inserted.c.received_at)
        .cte("receipts")
    )
    return Prepared(
        select(
            inserted.c.complaint_id,
            inserted.c.supplier,
            inserted.c.received_at,
            decisions.c.validity,
            decisions.c.root_cause,
        )
        .select_from(
            inserted.outerjoin(decisions, decisions.c.complaint_id == inserted.c.complaint_id)
        )
        .add_cte(receipts)
    )


_INSERT_COMPLAINTS = _insert_complaints_statement()


async def insert_complaints(session: AsyncSession, rows: list[dict[str, Any]]) -> list:
    """Insert complaints' fact rows (a repeat changes nothing), in one statement that also
    copies the opening priority and customer tier of a complaint's case (if the case came
    first) onto it, and its receipt time onto the case's progress row. The new complaints,
    each with the decisions recorded before it: (complaint_id, supplier, received_at,
    validity, root_cause), the last two None for a complaint without one."""
    return await _INSERT_COMPLAINTS.fetch(session, **_arrays("given", rows, COMPLAINT_COLUMNS))


CASE_COLUMNS = ["case_id", "complaint_id", "priority", "customer_tier", "opened_at"]


def _insert_cases_statement() -> Prepared:
    facts, complaints = tables.case_facts, tables.complaint_facts
    given = _typed("given", facts, CASE_COLUMNS)
    inserted = (
        insert(facts)
        .from_select(
            CASE_COLUMNS,
            select(*(given.c[c] for c in CASE_COLUMNS)).order_by(given.c.case_id),
        )
        # Any conflict: a repeat of a case, or (should the case service ever misbehave) a
        # second case for the same complaint; the first one counts.
        .on_conflict_do_nothing()
        .returning(facts.c.complaint_id, facts.c.priority, facts.c.customer_tier)
        .cte("inserted")
    )
    # The first case of each complaint: the one just inserted, or the one stored before
    # (this statement's snapshot does not hold the rows it inserts; a complaint has one).
    first = union_all(
        select(inserted.c.complaint_id, inserted.c.priority, inserted.c.customer_tier),
        select(facts.c.complaint_id, facts.c.priority, facts.c.customer_tier).where(
            facts.c.complaint_id.in_(select(given.c.complaint_id))
        ),
    ).subquery("first_case")
    return Prepared(
        complaints.update()
        .where(
            complaints.c.complaint_id == first.c.complaint_id,
            or_(
                complaints.c.priority.is_distinct_from(first.c.priority),
                complaints.c.customer_tier.is_distinct_from(first.c.customer_tier),
            ),
        )
        .values(priority=first.c.priority, customer_tier=first.c.customer_tier)
        .add_cte(inserted)
    )


_INSERT_CASES = _insert_cases_statement()


async def insert_cases(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """Insert cases' fact rows, and copy each case's priority and customer tier onto its
    complaint's fact row (if the complaint came first) so that priority trends and the
    per-tier figure need no join: one statement. Either order ends with the values of the
    first case recorded for the complaint, as the join gave."""
    await _INSERT_CASES.execute(session, **_arrays("given", rows, CASE_COLUMNS))


def progress_merge(statement) -> dict[str, Any]:  # noqa: ANN001
    """How every case-progress column merges an incoming row (``excluded``) with the stored
    one; a column the incoming row leaves empty keeps the stored value."""
    excluded = statement.excluded
    merged: dict[str, Any] = {}
    for column in EARLIEST_COLUMNS:
        merged[column] = func.least(progress.c[column], excluded[column])  # ignores nulls
    for column in FIRST_KNOWN_COLUMNS:
        merged[column] = func.coalesce(progress.c[column], excluded[column])
    for column in EVER_COLUMNS:
        merged[column] = progress.c[column] | excluded[column]
    newer_team = and_(
        excluded.team_changed_at.is_not(None),
        or_(
            progress.c.team_changed_at.is_(None),
            excluded.team_changed_at >= progress.c.team_changed_at,
        ),
    )
    merged["team"] = case((newer_team, excluded.team), else_=progress.c.team)
    merged["team_changed_at"] = func.greatest(progress.c.team_changed_at, excluded.team_changed_at)
    newer_status = and_(
        excluded.status_version.is_not(None),
        or_(
            progress.c.status_version.is_(None),
            excluded.status_version > progress.c.status_version,
        ),
    )
    merged["status"] = case((newer_status, excluded.status), else_=progress.c.status)
    merged["status_version"] = func.greatest(progress.c.status_version, excluded.status_version)
    return merged


PROGRESS_COLUMNS = [c.name for c in progress.columns if c.name != "received_at"]


def _merge_progress_statement() -> Prepared:
    complaints = tables.complaint_facts
    given = _typed("given", progress, PROGRESS_COLUMNS)
    query = (
        select(*(given.c[c] for c in PROGRESS_COLUMNS), complaints.c.received_at)
        .select_from(given.outerjoin(complaints, complaints.c.complaint_id == given.c.complaint_id))
        .order_by(given.c.case_id)
    )
    statement = insert(progress).from_select([*PROGRESS_COLUMNS, "received_at"], query)
    return Prepared(
        statement.on_conflict_do_update(index_elements=["case_id"], set_=progress_merge(statement))
    )


_MERGE_PROGRESS = _merge_progress_statement()


async def merge_progress(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """Upsert cases' progress rows (one per case), merging each column by its rule. A case's
    ``received_at`` is its complaint's receipt, if the complaint came first."""
    await _MERGE_PROGRESS.execute(session, **_arrays("given", rows, PROGRESS_COLUMNS))


async def _keep_newest(
    session: AsyncSession,
    table: Table,
    key: str,
    newer_by: str,
    rows: list[dict[str, Any]],
    owner: str | None = None,
    returning: tuple = (),
):  # noqa: ANN202
    """Insert rows, or replace a stored one only when the new one is newer by ``newer_by``
    (a late, older change does not overwrite a newer one); the ``owner`` it belongs to stays
    as first recorded."""
    columns = list(rows[0])
    given = _given("given", table, rows, columns)
    statement = insert(table).from_select(
        columns, select(*(given.c[c] for c in columns)).order_by(given.c[key])
    )
    excluded = statement.excluded
    statement = statement.on_conflict_do_update(
        index_elements=[key],
        set_={column: excluded[column] for column in columns if column not in (key, owner)},
        where=table.c[newer_by] < excluded[newer_by],
    )
    if returning:
        return (await session.execute(statement.returning(*returning))).all()
    await session.execute(statement)
    return None


async def upsert_remedies(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """Keep each remedy's newest state."""
    await _keep_newest(
        session, tables.remedy_facts, "remedy_id", "changed_at", rows, owner="case_id"
    )


async def upsert_satisfaction(
    session: AsyncSession, rows: list[dict[str, Any]]
) -> dict[uuid.UUID, datetime]:
    """Keep each case's newest satisfaction survey; when the surveys they replace (or not, if
    those are newer) were recorded, by case (a case's first has none)."""
    facts = tables.satisfaction_facts
    replaced = dict(
        (
            await session.execute(
                select(facts.c.case_id, facts.c.recorded_at).where(
                    facts.c.case_id.in_([row["case_id"] for row in rows])
                )
            )
        ).all()
    )
    await _keep_newest(session, facts, "case_id", "recorded_at", rows)
    return replaced


async def complaints_of_cases(
    session: AsyncSession, case_ids: set[uuid.UUID]
) -> dict[uuid.UUID, uuid.UUID]:
    """The complaint each recorded case belongs to."""
    cases = tables.case_facts
    rows = await session.execute(
        select(cases.c.case_id, cases.c.complaint_id).where(cases.c.case_id.in_(case_ids))
    )
    return dict(rows.all())


async def complaints_with_decisions(
    session: AsyncSession, pairs: list[tuple[uuid.UUID, uuid.UUID]]
) -> dict[uuid.UUID, Row]:
    """For each (case, complaint) whose complaint is known, by case: the complaint's supplier
    and receipt, and the case's decision as it stands (validity, root cause)."""
    facts, complaints = tables.decision_facts, tables.complaint_facts
    given = unnested(
        "given",
        case_id=(UUID(as_uuid=True), [p[0] for p in pairs]),
        complaint_id=(UUID(as_uuid=True), [p[1] for p in pairs]),
    )
    rows = await session.execute(
        select(
            given.c.case_id,
            complaints.c.supplier,
            complaints.c.received_at,
            facts.c.validity,
            facts.c.root_cause,
        )
        .select_from(given)
        .join(complaints, complaints.c.complaint_id == given.c.complaint_id)
        .outerjoin(facts, facts.c.case_id == given.c.case_id)
    )
    return {row.case_id: row for row in rows}


async def upsert_decisions(session: AsyncSession, rows: list[dict[str, Any]]) -> dict:
    """Keep each case's latest decision; the stored (validity, root cause) of the cases whose
    decision was stored (not those where a newer one was already there)."""
    facts = tables.decision_facts
    stored = await _keep_newest(
        session,
        facts,
        "case_id",
        "decided_at",
        rows,
        owner="complaint_id",
        returning=(facts.c.case_id, facts.c.validity, facts.c.root_cause),
    )
    return {row.case_id: row for row in stored}
