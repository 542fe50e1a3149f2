from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from case_service import MIGRATIONS_DIR
from case_service.bootstrap import build_app
from case_service.config import CaseSettings
from case_service.sla.service import fire_due_timers
from redress_shared.events import (
    COMPLAINT_RECEIVED,
    COMPLAINTS_TOPIC,
    ComplaintReceivedV1,
    CustomerContact,
    new_event,
)
from redress_testing import eventually, produce, running_app, service_settings


@pytest.fixture(scope="session")
def case_settings(infra) -> CaseSettings:
    return service_settings(infra, CaseSettings, MIGRATIONS_DIR)


@pytest.fixture(scope="session")
async def cases_client(case_settings):
    """The case app running with its consumer against the real broker."""
    async with running_app(build_app(case_settings), case_settings) as client:
        yield client


def _complaint_event(
    category: str = "product_defect",
    received_at: datetime | None = None,
    supplier: str | None = None,
    customer_key: str | None = None,
    priority_hint: str | None = None,
):
    complaint_id = uuid.uuid4()
    customer = CustomerContact(
        customer_key=customer_key or str(uuid.uuid4()), email="ana@example.com", language="ro"
    )
    # Now, so no SLA deadline of a test case passes while the suite runs.
    received_at = received_at or datetime.now(UTC)
    payload = ComplaintReceivedV1(
        complaint_id=complaint_id,
        reference=f"RDR-2026-{uuid.uuid4().int % 10**6:06d}",
        received_at=received_at,
        channel="api",
        customer=customer,
        subject="Broken charger",
        body="Nu mai merge.",
        category=category,
        supplier=supplier,
        priority_hint=priority_hint,
    )
    return new_event(
        source="/test",
        type=COMPLAINT_RECEIVED,
        key=customer.customer_key,
        payload=payload,
        time=received_at,
    )


@pytest.fixture
def complaint_event():
    """Builds a ``complaint.received`` event for a new complaint."""
    return _complaint_event


@pytest.fixture
def open_case(cases_client, infra):
    """Publish a complaint and return the case the service opened for it."""

    async def opener(
        category: str = "product_defect",
        received_at: datetime | None = None,
        supplier: str | None = None,
        customer_key: str | None = None,
        priority_hint: str | None = None,
    ) -> dict:
        event = _complaint_event(category, received_at, supplier, customer_key, priority_hint)
        await produce(infra.kafka_bootstrap_servers, COMPLAINTS_TOPIC, event)

        async def opened():
            page = await cases_client.get(
                "/v1/cases", params={"complaint_id": event.data["complaint_id"]}
            )
            return page.json()["items"]

        (case,) = await eventually(opened)
        return case

    return opener


async def _fire_until_quiet(session_factory, clock) -> int:
    fired_in_all = 0
    while fired := await fire_due_timers(session_factory, clock):
        fired_in_all += fired
    return fired_in_all


@pytest.fixture
def fire_all_due_timers():
    """``await fire_all_due_timers(session_factory, clock)``: fire due SLA timers batch after
    batch until none is left, as the timer loop does. Other tests' cases share the database
    and may be due at a far-future test clock too, so one batch may not reach this test's."""
    return _fire_until_quiet
