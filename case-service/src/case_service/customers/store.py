"""SQL of customer profiles and of a customer's cases."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from redress_shared.events import ComplaintReceivedV1
from sqlalchemy import Row, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from case_service import tables
from case_service.customers.model import CONTACT_FIELDS


async def remember_customer(session: AsyncSession, complaint: ComplaintReceivedV1) -> Row:
    """Create or refresh the customer's profile from a complaint; return the profile."""
    customers = tables.customers
    contact = complaint.customer
    statement = insert(customers).values(
        customer_key=contact.customer_key,
        name=contact.name,
        email=contact.email,
        phone=contact.phone,
        language=contact.language,
        first_seen_at=complaint.received_at,
        last_complaint_at=complaint.received_at,
        complaint_count=1,
        preferred_channel=contact.preferred_channel,
    )
    excluded = statement.excluded
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[customers.c.customer_key],
            set_={
                # The newest complaint's contact points win; a missing one keeps the old.
                **{
                    column: func.coalesce(excluded[column], customers.c[column])
                    for column in CONTACT_FIELDS
                },
                "complaint_count": customers.c.complaint_count + 1,
                "last_complaint_at": excluded.last_complaint_at,
            },
        )
    )
    return (
        await session.execute(
            select(customers).where(customers.c.customer_key == contact.customer_key)
        )
    ).one()


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
