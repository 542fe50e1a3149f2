"""SQL of customer profiles and of a customer's cases."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from types import SimpleNamespace
from typing import Any

from redress_shared.db import Prepared, unnest_params
from redress_shared.events import ComplaintReceivedV1
from sqlalchemy import ARRAY, Row, bindparam, exists, func, select
from sqlalchemy.dialects.postgresql import UUID, insert
from sqlalchemy.ext.asyncio import AsyncSession

from case_service import tables
from case_service.customers.model import CONTACT_FIELDS, contact_values, fold_contacts

# The columns a complaint writes into its customer's profile.
_REMEMBERED = (
    *("customer_key", *CONTACT_FIELDS),
    *("first_seen_at", "last_complaint_at", "complaint_count"),
)


def _remember_statement(*, unless_opened: bool = False) -> Prepared:
    customers = tables.customers
    given = unnest_params("given", **{column: customers.c[column].type for column in _REMEMBERED})
    rows = select(*(given.c[column] for column in _REMEMBERED))
    returned = list(customers.c)
    if unless_opened:
        cases = tables.cases
        ids = bindparam("complaint_ids", type_=ARRAY(UUID(as_uuid=True)))
        rows = rows.where(~exists().where(cases.c.complaint_id == func.any(ids)))
        version = select(tables.opening_settings_version.c.version).scalar_subquery()
        returned.append(version.label("settings_version"))
    statement = insert(customers).from_select(list(_REMEMBERED), rows)
    excluded = statement.excluded
    return Prepared(
        statement.on_conflict_do_update(
            index_elements=[customers.c.customer_key],
            set_={
                **{
                    column: func.coalesce(excluded[column], customers.c[column])
                    for column in CONTACT_FIELDS
                },
                "complaint_count": customers.c.complaint_count + excluded.complaint_count,
                "last_complaint_at": excluded.last_complaint_at,
            },
        ).returning(*returned)
    )


_REMEMBER = _remember_statement()
_REMEMBER_UNLESS_OPENED = _remember_statement(unless_opened=True)


async def remember_customers(
    session: AsyncSession, complaints: Sequence[ComplaintReceivedV1]
) -> list[Any]:
    """Create or refresh the profiles of the customers of ``complaints`` (in their order) with
    one upsert; return each complaint's profile as it stood right after that complaint, as if
    they had been remembered one by one (the newest contact points win, a missing one keeps
    the old; each complaint counts once)."""
    profiles, _version = await _remember(session, complaints, _REMEMBER)
    return profiles


async def remember_customers_unless_opened(
    session: AsyncSession, complaints: Sequence[ComplaintReceivedV1]
) -> tuple[list[Any], int] | None:
    """:func:`remember_customers`, in the same statement as the check that none of the
    complaints already has its case (opening's common case: one round trip for both), and
    with the version of the settings opening reads (``opening_settings_version``). None,
    having changed nothing, when one of them has its case."""
    profiles, version = await _remember(
        session,
        complaints,
        _REMEMBER_UNLESS_OPENED,
        complaint_ids=[complaint.complaint_id for complaint in complaints],
    )
    return None if version is None else (profiles, version)


async def _remember(
    session: AsyncSession,
    complaints: Sequence[ComplaintReceivedV1],
    statement: Prepared,
    **guard: Any,
) -> tuple[list[Any], int | None]:
    customers = tables.customers
    by_key: dict[str, list[ComplaintReceivedV1]] = {}
    for complaint in complaints:
        by_key.setdefault(complaint.customer.customer_key, []).append(complaint)
    repeated = {key for key, theirs in by_key.items() if len(theirs) > 1}
    before: dict[str, dict[str, Any]] = {}
    if repeated:
        # Only a customer with several complaints here needs the profile as it was before:
        # the profile each earlier complaint saw is between that and the new one.
        locked = await session.execute(
            select(customers)
            .where(customers.c.customer_key.in_(sorted(repeated)))
            .order_by(customers.c.customer_key)
            .with_for_update()
        )
        before = {
            row.customer_key: {field: getattr(row, field) for field in CONTACT_FIELDS}
            for row in locked
        }
    seen = {
        key: fold_contacts(before.get(key, {}), [contact_values(c.customer) for c in theirs])
        for key, theirs in by_key.items()
    }
    values = [
        {
            "customer_key": key,
            # What the complaints bring, newest first: the upsert keeps the old where none
            # of them has a contact point.
            **fold_contacts({}, [contact_values(c.customer) for c in theirs])[-1],
            "first_seen_at": theirs[0].received_at,
            "last_complaint_at": theirs[-1].received_at,
            "complaint_count": len(theirs),
        }
        for key, theirs in sorted(by_key.items())
    ]
    rows = await statement.fetch(
        session,
        **guard,
        **{f"given_{column}": [v[column] for v in values] for column in _REMEMBERED},
    )
    if not rows:  # the guard held: nothing was written
        return [], None
    version = rows[0]["settings_version"] if guard else None
    final = {
        row["customer_key"]: SimpleNamespace(**{c.name: row[c.name] for c in customers.c})
        for row in rows
    }
    profiles: list[Any] = []
    taken = dict.fromkeys(repeated, 0)
    for complaint in complaints:
        key = complaint.customer.customer_key
        if key not in repeated:
            profiles.append(final[key])
            continue
        contact = seen[key][taken[key]]
        taken[key] += 1
        profiles.append(SimpleNamespace(**{**vars(final[key]), **contact}))
    return profiles, version


async def get_customer(
    session: AsyncSession, customer_key: str, *, lock: bool = False
) -> Row | None:
    """One profile, or None; ``lock`` holds it for this transaction."""
    customers = tables.customers
    query = select(customers).where(customers.c.customer_key == customer_key)
    if lock:
        query = query.with_for_update()
    return (await session.execute(query)).first()


async def count_cases_since(session: AsyncSession, customer_key: str, since: datetime) -> int:
    """How many cases of the customer were received since ``since``."""
    cases = tables.cases
    count = await session.scalar(
        select(func.count()).where(
            cases.c.customer_key == customer_key, cases.c.received_at >= since
        )
    )
    return count or 0


async def recent_cases(session: AsyncSession, customer_key: str, limit: int = 50) -> list[Row]:
    """The customer's newest cases, in brief."""
    cases = tables.cases
    rows = await session.execute(
        select(
            cases.c.id,
            cases.c.reference,
            cases.c.status,
            cases.c.priority,
            cases.c.category,
            cases.c.received_at,
        )
        .where(cases.c.customer_key == customer_key)
        .order_by(cases.c.received_at.desc())
        .limit(limit)
    )
    return list(rows.all())


async def update_customer(session: AsyncSession, customer_key: str, values: dict[str, Any]) -> None:
    """Write changed columns of a profile."""
    customers = tables.customers
    await session.execute(
        customers.update().where(customers.c.customer_key == customer_key).values(**values)
    )
