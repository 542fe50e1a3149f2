"""complaint.received → one case, its history and case.opened, over the real broker."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from case_service import tables
from case_service.cases.model import Priority, triage_priority
from redress_shared.events import (
    CASE_OPENED,
    COMPLAINTS_TOPIC,
)
from redress_testing import eventually, produce
from sqlalchemy import func, select


async def test_a_complaint_opens_exactly_one_case_despite_redelivery_and_replay(
    cases_client, infra, complaint_event
):
    event = complaint_event()
    complaint_id = event.data["complaint_id"]
    replayed = event.model_copy(update={"id": uuid.uuid4()})  # same complaint, new event id
    await produce(infra.kafka_bootstrap_servers, COMPLAINTS_TOPIC, event, event, replayed)

    async def one_case():
        page = (await cases_client.get("/v1/cases", params={"complaint_id": complaint_id})).json()
        return page["items"]

    items = await eventually(one_case)
    assert len(items) == 1
    case = items[0]
    assert case["status"] == "new"
    assert case["priority"] == "normal"
    received = datetime.fromisoformat(event.data["received_at"])
    assert datetime.fromisoformat(case["sla"]["acknowledge_by"]) == received + timedelta(hours=24)
    assert datetime.fromisoformat(case["sla"]["resolve_by"]) == received + timedelta(days=14)

    read = await cases_client.get(f"/v1/cases/{case['id']}")
    assert read.status_code == 200 and read.headers["etag"] == '"1"'

    history = (await cases_client.get(f"/v1/cases/{case['id']}/events")).json()
    assert [entry["action"] for entry in history] == ["opened"]
    assert history[0]["after"]["status"] == "new"

    runtime = cases_client.app.state.runtime
    async with runtime.session_factory() as session:
        # Give the duplicates time to have been consumed before counting.
        await eventually(lambda: _inbox_has(session, runtime, [event.id, replayed.id]), timeout=90)
        case_count = await session.scalar(
            select(func.count())
            .select_from(tables.cases)
            .where(tables.cases.c.complaint_id == uuid.UUID(complaint_id))
        )
        opened_events = await session.scalar(
            select(func.count())
            .select_from(tables.platform.outbox)
            .where(
                tables.platform.outbox.c.event["type"].astext == CASE_OPENED,
                tables.platform.outbox.c.message_key == case["id"],
            )
        )
    assert case_count == 1
    assert opened_events == 1


async def _inbox_has(session, runtime, event_ids) -> bool:
    inbox = runtime.tables.inbox
    found = await session.scalar(
        select(func.count()).select_from(inbox).where(inbox.c.event_id.in_(event_ids))
    )
    await session.rollback()
    return found == len(event_ids)


async def test_outage_is_urgent_with_tighter_deadlines(cases_client, infra, complaint_event):
    event = complaint_event(category="outage")
    await produce(infra.kafka_bootstrap_servers, COMPLAINTS_TOPIC, event)

    async def case():
        page = (
            await cases_client.get("/v1/cases", params={"complaint_id": event.data["complaint_id"]})
        ).json()
        return page["items"]

    (opened,) = await eventually(case)
    assert opened["priority"] == "urgent"
    received = datetime.fromisoformat(event.data["received_at"])
    assert datetime.fromisoformat(opened["sla"]["acknowledge_by"]) == received + timedelta(hours=1)


def test_triage_rules():
    assert triage_priority("outage") is Priority.URGENT
    assert triage_priority("legal_threat") is Priority.HIGH
    assert triage_priority(None) is Priority.NORMAL


async def test_unknown_case_is_a_404_problem(cases_client):
    response = await cases_client.get(f"/v1/cases/{uuid.uuid4()}")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    bad_cursor = await cases_client.get("/v1/cases", params={"cursor": "%%%"})
    assert bad_cursor.status_code == 400
