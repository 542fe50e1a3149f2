"""Customer profile use cases: read a profile with its complaint history, change it.

The profile is owned here: tier, preferred channel, language and contact points. Complaints
keep the contact points current (the newest one wins, a missing one keeps the old); ops
change the rest with an update guarded by the profile's version (``If-Match``).
"""

from __future__ import annotations

from datetime import timedelta

from redress_shared.clock import Clock
from redress_shared.db import SessionFactory
from redress_shared.errors import NotFound

from case_service.cases.model import StaleVersion
from case_service.customers import store
from case_service.customers.model import CustomerProfile, check_reachable


async def read_customer(
    session_factory: SessionFactory,
    clock: Clock,
    customer_key: str,
    *,
    frequent_window: timedelta,
    frequent_threshold: int,
) -> CustomerProfile:
    """A profile with its recent cases; NotFound if unknown."""
    since = clock.now() - frequent_window
    async with session_factory() as session:
        row = await store.get_customer(session, customer_key)
        if row is None:
            raise NotFound("customer", customer_key)
        count = await store.count_cases_since(session, customer_key, since)
        recent = await store.recent_cases(session, customer_key)
    return CustomerProfile(row, count, count >= frequent_threshold, recent)


async def update_customer(
    session_factory: SessionFactory,
    clock: Clock,
    customer_key: str,
    changes: dict,
    *,
    actor: str,
    expected_version: int | None,
    frequent_window: timedelta,
    frequent_threshold: int,
) -> CustomerProfile:
    """Change a profile in one transaction: NotFound if unknown, StaleVersion if
    ``expected_version`` is stale, InvalidCustomerUpdate if the preferred channel would have
    no contact point to reach. Returns the profile as it then stands (see ``read_customer``)."""
    async with session_factory() as session, session.begin():
        row = await store.get_customer(session, customer_key, lock=True)
        if row is None:
            raise NotFound("customer", customer_key)
        if expected_version is not None and row.version != expected_version:
            raise StaleVersion(
                expected_version,
                row.version,
                what="the profile",
                title="The customer has changed since you read it",
            )
        check_reachable({**row._mapping, **changes})
        if changes:
            await store.update_customer(
                session,
                customer_key,
                {
                    **changes,
                    "version": row.version + 1,
                    "updated_at": clock.now(),
                    "updated_by": actor,
                },
            )
    return await read_customer(
        session_factory,
        clock,
        customer_key,
        frequent_window=frequent_window,
        frequent_threshold=frequent_threshold,
    )
