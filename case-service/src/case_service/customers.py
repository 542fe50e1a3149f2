"""Customer profile use cases: read a profile with its complaint history, change it.

The profile is owned here: tier, preferred channel, language and contact points. Complaints
keep the contact points current (the newest one wins, a missing one keeps the old); ops
change the rest with an update guarded by the profile's version (``If-Match``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from redress_shared.clock import Clock
from redress_shared.db import SessionFactory
from redress_shared.errors import NotFound, Problem
from sqlalchemy import Row, func, select

from case_service import tables

# Which contact point each preferred channel needs (chat and social reach the customer
# where they wrote to us, so they need none on the profile).
CHANNEL_CONTACT = {"email": "email", "sms": "phone"}


@dataclass(frozen=True)
class CustomerProfile:
    """A customer row with the counts ops sees beside it."""

    row: Row
    complaints_in_window: int
    frequent_complainer: bool
    recent_cases: list[Row]


async def read_customer(
    sessions: SessionFactory,
    clock: Clock,
    customer_key: str,
    *,
    frequent_window: timedelta,
    frequent_threshold: int,
) -> CustomerProfile:
    """A profile with its recent cases; 404 if unknown."""
    since = clock.now() - frequent_window
    cases = tables.cases
    async with sessions() as session:
        row = (
            await session.execute(
                select(tables.customers).where(tables.customers.c.customer_key == customer_key)
            )
        ).first()
        if row is None:
            raise NotFound("customer", customer_key)
        in_window = await session.scalar(
            select(func.count()).where(
                cases.c.customer_key == customer_key, cases.c.received_at >= since
            )
        )
        recent = (
            await session.execute(
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
                .limit(50)
            )
        ).all()
    count = in_window or 0
    return CustomerProfile(row, count, count >= frequent_threshold, list(recent))


async def update_customer(
    sessions: SessionFactory,
    clock: Clock,
    customer_key: str,
    changes: dict,
    *,
    actor: str,
    expected_version: int | None,
) -> None:
    """Change a profile in one transaction: 404 if unknown, 412 if ``expected_version`` is
    stale, 422 if the preferred channel would have no contact point to reach."""
    customers = tables.customers
    async with sessions() as session, session.begin():
        row = (
            await session.execute(
                select(customers).where(customers.c.customer_key == customer_key).with_for_update()
            )
        ).first()
        if row is None:
            raise NotFound("customer", customer_key)
        if expected_version is not None and row.version != expected_version:
            raise Problem(
                412,
                "stale-version",
                "The customer has changed since you read it",
                f"If-Match names version {expected_version}; the profile is at version "
                f"{row.version}. Read it again and retry.",
                current_version=row.version,
            )
        after = {**row._mapping, **changes}
        needed = CHANNEL_CONTACT.get(after["preferred_channel"] or "")
        if needed and not after[needed]:
            raise Problem(
                422,
                "invalid-customer-update",
                "The preferred channel has no contact point",
                f"preferred_channel '{after['preferred_channel']}' needs the customer's {needed}",
            )
        if not changes:
            return
        await session.execute(
            customers.update()
            .where(customers.c.customer_key == customer_key)
            .values(**changes, version=row.version + 1, updated_at=clock.now(), updated_by=actor)
        )
