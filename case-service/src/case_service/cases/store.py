"""SQL of cases: the case rows, their append-only history, searches, and ``change_case``,
the one way a use case changes a case (lock → change → history → outbox → version bump)."""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections.abc import Awaitable, Callable, Collection, Iterable, Mapping, Sequence
from datetime import datetime
from typing import TypeVar

from redress_shared.db import OUTBOX_WRITTEN, Prepared, insert_rows, unnest_params
from redress_shared.errors import NotFound
from redress_shared.events import CASES_TOPIC, ComplaintReceivedV1, EventEnvelope
from redress_shared.outbox import add_many_to_outbox
from sqlalchemy import (
    Insert,
    Integer,
    Row,
    Table,
    and_,
    bindparam,
    exists,
    func,
    insert,
    or_,
    select,
    tuple_,
)
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from sqlalchemy.ext.asyncio import AsyncSession

from case_service import tables
from case_service.cases.model import (
    Case,
    CaseChange,
    HistoryEntry,
    SlaState,
    check_version,
    decode_cursor,
)
from case_service.cases.schemas import CaseFilter
from case_service.sla.model import SlaClock
from case_service.sla.store import CLOCK_COLUMNS, clock_rows

T = TypeVar("T")
Changer = Callable[[AsyncSession, Row, Mapping[uuid.UUID, Row]], Awaitable[CaseChange[T] | None]]
"""``change(session, case, locked)``: change the locked case's parts; say what to record."""

CASE_COLUMNS = (
    *("id", "complaint_id", "reference", "status", "priority", "category", "channel"),
    *("opened_at", "subject", "language", "sla_policy", "customer_key", "body"),
    *("received_at", "supplier", "product", "team", "updated_at"),
    *("acknowledge_by", "first_response_by", "resolve_by"),
)
HISTORY_COLUMNS = ("case_id", "at", "actor", "action", "before", "after", "event_id")
OUTBOX_COLUMNS = ("event_id", "topic", "message_key", "event")


async def append_history_entries(
    session: AsyncSession, entries: Sequence[HistoryEntry], now: datetime
) -> None:
    """Append entries (each naming its case) to the history in one statement, in their
    order; an entry without its own time happened ``now``."""
    if not entries:
        return
    await insert_rows(session, tables.case_history, _history_rows(entries, now))


def _history_of_existing_cases_statement() -> Prepared:
    history, cases = tables.case_history, tables.cases
    given = unnest_params(
        "entry_rows", position=Integer(), **{c: history.c[c].type for c in HISTORY_COLUMNS}
    )
    existing = (
        select(*(given.c[c] for c in HISTORY_COLUMNS))
        .select_from(given.join(cases, cases.c.id == given.c.case_id))
        .order_by(given.c.position)
    )
    return Prepared(history.insert().from_select(list(HISTORY_COLUMNS), existing))


_HISTORY_OF_EXISTING_CASES = _history_of_existing_cases_statement()


async def append_history_of_existing_cases(
    session: AsyncSession, entries: Sequence[HistoryEntry], now: datetime
) -> None:
    """Append entries (each naming its case) in one statement, in their order, skipping
    those whose case does not exist (the existence check is the statement's join: one for
    the batch, not one query per entry); an entry without its own time happened ``now``."""
    if entries:
        await _HISTORY_OF_EXISTING_CASES.execute(
            session, **_arrays("entry_rows", HISTORY_COLUMNS, _history_values(entries, now))
        )


def _history_values(entries: Sequence[HistoryEntry], now: datetime) -> list[tuple]:
    """History entries as rows of :data:`HISTORY_COLUMNS` values, JSON as its text."""
    return [
        (
            *(entry.case_id, entry.at or now, entry.actor, entry.action),
            *(json.dumps(entry.before), json.dumps(entry.after), entry.event_id),
        )
        for entry in entries
    ]


def _arrays(name: str, columns: Sequence[str], rows: Sequence[Sequence]) -> dict[str, list]:
    """The parameters of ``unnest_params(name, position=..., <columns>)`` for ``rows``
    (values in ``columns`` order), numbered in their order."""
    arrays = {f"{name}_position": list(range(len(rows)))}
    for index, column in enumerate(columns):
        arrays[f"{name}_{column}"] = [row[index] for row in rows]
    return arrays


def _history_rows(entries: Sequence[HistoryEntry], now: datetime) -> list[dict]:
    return [
        {
            "case_id": entry.case_id,
            "at": entry.at or now,
            "actor": entry.actor,
            "action": entry.action,
            "before": entry.before,
            "after": entry.after,
            "event_id": entry.event_id,
        }
        for entry in entries
    ]


async def stage_events(session: AsyncSession, events: Sequence[EventEnvelope]) -> None:
    """Stage case events for ``redress.cases.v1`` in the outbox with one statement, in their
    order (the commit wakes the relay)."""
    await add_many_to_outbox(session, tables.platform, CASES_TOPIC, events)


async def lock_cases(
    session: AsyncSession, case_ids: Collection[uuid.UUID]
) -> dict[uuid.UUID, Row]:
    """The existing cases among ``case_ids``, locked for this transaction. Locked in id order,
    so two transactions locking the same pair (two merges) cannot deadlock."""
    cases = tables.cases
    rows = await session.execute(
        select(cases).where(cases.c.id.in_(case_ids)).order_by(cases.c.id).with_for_update()
    )
    return {row.id: row for row in rows.all()}


async def record_change(session: AsyncSession, case: Row, change: CaseChange, now: datetime) -> Row:
    """Record ``change`` of the locked ``case``: its events into the outbox, its history
    entries, its columns and the version bump; return the case row as it now stands."""
    await stage_events(session, change.events)
    await append_history_entries(
        session,
        [
            entry if entry.case_id else dataclasses.replace(entry, case_id=case.id)
            for entry in change.history
        ],
        now,
    )
    values = dict(change.values)
    if change.bump_version:
        values.update(version=case.version + 1, updated_at=now)
    if not values:
        return case
    cases = tables.cases
    updated = await session.execute(
        cases.update().where(cases.c.id == case.id).values(**values).returning(*cases.c)
    )
    return updated.one()


async def change_case(
    session: AsyncSession,
    case_id: uuid.UUID,
    change: Changer[T],
    *,
    now: datetime,
    expected_version: int | None = None,
    related: Collection[uuid.UUID] = (),
) -> tuple[Row, T | None]:
    """Change one case in the caller's transaction: lock it (and the ``related`` cases),
    refuse an unknown case (NotFound) or a stale ``expected_version`` (StaleVersion), let
    ``change(session, case, locked)`` change its parts and say what to record, then record it (see
    ``record_change``). Returns the case as it now stands and the change's result; a change
    that returns None recorded nothing (the case stays as it was)."""
    locked = await lock_cases(session, {case_id, *related})
    case = locked.get(case_id)
    if case is None:
        raise NotFound("case", case_id)
    check_version(case.version, expected_version)
    outcome = await change(session, case, locked)
    if outcome is None:
        return case, None
    return await record_change(session, case, outcome, now), outcome.result


def _insert_given(table: Table, name: str, columns: Sequence[str]) -> Insert:
    """``INSERT INTO table (columns) SELECT ... FROM unnest(<one array per column>)`` in the
    order of a ``position`` array (an identity column numbers the rows in that order)."""
    given = unnest_params(name, position=Integer(), **{c: table.c[c].type for c in columns})
    return insert(table).from_select(
        list(columns), select(*(given.c[c] for c in columns)).order_by(given.c.position)
    )


def _open_cases_statement() -> Prepared:
    # One round trip for the four inserts (PostgreSQL checks the foreign keys of the clocks
    # and history on the new cases at the end of the statement, when all are in).
    statement = _insert_given(tables.platform.outbox, "outbox_rows", OUTBOX_COLUMNS)
    for table, name, columns in (
        (tables.cases, "case_rows", CASE_COLUMNS),
        (tables.case_clocks, "clock_rows", CLOCK_COLUMNS),
        (tables.case_history, "history_rows", HISTORY_COLUMNS),
    ):
        statement = statement.add_cte(_insert_given(table, name, columns).cte(f"{name}_in"))
    return Prepared(statement)


_OPEN_CASES = _open_cases_statement()


async def store_opened_cases(
    session: AsyncSession,
    new_cases: Sequence[tuple[Case, ComplaintReceivedV1, str | None, str]],
    clocks: Sequence[tuple[uuid.UUID, str, Iterable[SlaClock]]],
    history: Sequence[HistoryEntry],
    events: Sequence[EventEnvelope],
    *,
    now: datetime,
) -> None:
    """Store newly opened cases, each ``(case, complaint, product, team)``, their clocks
    (``(case id, calendar name, clocks)``), their history entries and their events for
    ``redress.cases.v1`` (each with its correlation id) in the outbox, in one statement
    (the commit wakes the relay)."""
    if not new_cases:
        return
    cases = [
        (
            *(case.id, case.complaint_id, case.reference, case.status.value),
            *(case.priority.value, case.category, case.channel, case.opened_at),
            *(case.subject, case.language, case.sla_policy, case.customer_key),
            *(complaint.body, case.received_at, complaint.supplier, product, team, now),
            *(case.due.acknowledge_by, case.due.first_response_by, case.due.resolve_by),
        )
        for case, complaint, product, team in new_cases
    ]
    outbox = [(event.id, CASES_TOPIC, event.key, event.model_dump_json()) for event in events]
    await _OPEN_CASES.execute(
        session,
        **_arrays("case_rows", CASE_COLUMNS, cases),
        **_arrays("clock_rows", CLOCK_COLUMNS, clock_rows(clocks)),
        **_arrays("history_rows", HISTORY_COLUMNS, _history_values(history, now)),
        **_arrays("outbox_rows", OUTBOX_COLUMNS, outbox),
    )
    session.info[OUTBOX_WRITTEN] = True


async def case_id_of_complaint(session: AsyncSession, complaint_id: uuid.UUID) -> uuid.UUID | None:
    """The id of the complaint's case, if it has one."""
    return await session.scalar(
        select(tables.cases.c.id).where(tables.cases.c.complaint_id == complaint_id)
    )


def _opened_already_statement() -> Prepared:
    cases = tables.cases
    ids = bindparam("complaint_ids", type_=ARRAY(UUID(as_uuid=True)))
    opened = select(func.array_agg(cases.c.complaint_id)).where(
        cases.c.complaint_id == func.any(ids)
    )
    version = select(tables.opening_settings_version.c.version)
    return Prepared(
        select(
            opened.scalar_subquery().label("opened"),
            version.scalar_subquery().label("settings_version"),
        )
    )


_OPENED_ALREADY = _opened_already_statement()


async def complaints_with_cases(
    session: AsyncSession, complaint_ids: Sequence[uuid.UUID]
) -> tuple[set[uuid.UUID], int]:
    """Which of ``complaint_ids`` already have their case, and the version of the settings
    opening a case reads (``opening_settings_version``): one statement, one array parameter
    however many ids."""
    (row,) = await _OPENED_ALREADY.fetch(session, complaint_ids=list(complaint_ids))
    return set(row["opened"] or ()), row["settings_version"]


async def case_exists(session: AsyncSession, case_id: uuid.UUID) -> bool:
    """Whether a case with this id exists."""
    found = await session.scalar(select(tables.cases.c.id).where(tables.cases.c.id == case_id))
    return found is not None


async def get_case(session: AsyncSession, case_id: uuid.UUID) -> Row | None:
    """One case, or None."""
    return (await session.execute(select(tables.cases).where(tables.cases.c.id == case_id))).first()


async def case_history(session: AsyncSession, case_id: uuid.UUID) -> list[Row]:
    """The append-only history of a case, oldest first."""
    history = tables.case_history
    rows = await session.execute(
        select(history).where(history.c.case_id == case_id).order_by(history.c.id)
    )
    return list(rows.all())


async def search_cases(session: AsyncSession, filters: CaseFilter) -> list[Row]:
    """Up to ``filters.limit + 1`` matching cases, newest first (ties broken by id); the
    extra row tells the caller there is a next page."""
    cases, clocks = tables.cases, tables.case_clocks
    query = (
        select(cases).order_by(cases.c.opened_at.desc(), cases.c.id.desc()).limit(filters.limit + 1)
    )
    equal = {
        "complaint_id": filters.complaint_id,
        "category": filters.category,
        "channel": filters.channel,
        "customer_key": filters.customer_key,
        "team": filters.team,
        "assignee": filters.assignee,
    }
    for column, value in equal.items():
        if value is not None:
            query = query.where(cases.c[column] == value)
    if filters.status:
        query = query.where(cases.c.status.in_([s.value for s in filters.status]))
    if filters.priority:
        query = query.where(cases.c.priority.in_([p.value for p in filters.priority]))
    if filters.text:
        pattern = (
            "%" + filters.text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        )
        query = query.where(or_(cases.c.subject.ilike(pattern), cases.c.reference.ilike(pattern)))
    for column, lower, upper in (
        (cases.c.opened_at, filters.opened_from, filters.opened_to),
        (cases.c.updated_at, filters.updated_from, filters.updated_to),
    ):
        if lower is not None:
            query = query.where(column >= lower)
        if upper is not None:
            query = query.where(column < upper)
    if filters.sla_state is not None:
        of_case = clocks.c.case_id == cases.c.id
        breached = exists().where(of_case, clocks.c.state == "breached")
        warned = exists().where(of_case, clocks.c.warning_fired_at.is_not(None))
        query = query.where(
            {
                SlaState.BREACHED: breached,
                SlaState.WARNING: and_(warned, ~breached),
                SlaState.OK: and_(~warned, ~breached),
            }[filters.sla_state]
        )
    if filters.cursor is not None:
        query = query.where(
            tuple_(cases.c.opened_at, cases.c.id) < tuple_(*decode_cursor(filters.cursor))
        )
    return list((await session.execute(query)).all())
