"""Supplier defects and alerts from real events: exact counts under redelivery and
out-of-order arrival, one alert per condition and month, cleared when the condition ends."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

from analytics_service import tables
from analytics_service.alerts import store as alerts
from redress_shared.events import (
    ALERT_CLEARED,
    ALERT_RAISED,
    CASE_DECISION_RECORDED,
    CASE_OPENED,
    CASES_TOPIC,
    COMPLAINT_RECEIVED,
    COMPLAINTS_TOPIC,
    CaseDecisionRecordedV1,
    CaseDueTimes,
    CaseOpenedV1,
    ComplaintReceivedV1,
    CustomerContact,
    new_event,
)
from redress_testing import eventually, produce
from sqlalchemy import select


def complaint_case_decision(
    supplier: str, received: datetime, root_cause: str, validity: str = "justified"
):
    customer = CustomerContact(customer_key=str(uuid.uuid4()), email="c@example.com")
    complaint_id, case_id = uuid.uuid4(), uuid.uuid4()
    complaint = new_event(
        source="/test",
        type=COMPLAINT_RECEIVED,
        key=customer.customer_key,
        time=received,
        payload=ComplaintReceivedV1(
            complaint_id=complaint_id,
            reference="RDR-2033-000001",
            received_at=received,
            channel="api",
            customer=customer,
            body="broken",
            category="product_defect",
            supplier=supplier,
        ),
    )
    opened = new_event(
        source="/test",
        type=CASE_OPENED,
        key=str(case_id),
        time=received,
        payload=CaseOpenedV1(
            case_id=case_id,
            complaint_id=complaint_id,
            reference="RDR-2033-000001",
            status="new",
            priority="normal",
            channel="api",
            opened_at=received,
            customer=customer,
            supplier=supplier,
            due=CaseDueTimes(
                acknowledge_by=received, first_response_by=received, resolve_by=received
            ),
            sla_policy="normal-default",
        ),
    )
    return (
        complaint,
        opened,
        decision_event(case_id, complaint_id, validity, root_cause, received + timedelta(days=2)),
    )


def decision_event(case_id, complaint_id, validity: str, root_cause: str, at: datetime):
    return new_event(
        source="/test",
        type=CASE_DECISION_RECORDED,
        key=str(case_id),
        time=at,
        payload=CaseDecisionRecordedV1(
            case_id=case_id,
            complaint_id=complaint_id,
            reference="RDR-2033-000001",
            validity=validity,
            root_cause=root_cause,
            decided_by="lead",
            occurred_at=at,
        ),
    )


async def alert_events(client, supplier: str) -> list[str]:
    outbox = client.app.state.runtime.tables.outbox
    async with client.app.state.runtime.session_factory() as session:
        rows = await session.execute(
            select(outbox.c.event)
            .where(outbox.c.event["data"]["subject"].astext == supplier)
            .order_by(outbox.c.id)
        )
        return [row.event["type"] for row in rows]


async def test_supplier_above_threshold_raises_one_alert_and_clears_when_it_drops(
    analytics_client, infra
):
    supplier = f"Supplier-{uuid.uuid4().hex[:6]}"
    month = datetime(2033, 5, 3, 10, tzinfo=UTC)
    seven = [
        complaint_case_decision(supplier, month + timedelta(days=i), "supplier_component")
        for i in range(7)
    ]
    noise = [
        complaint_case_decision(supplier, month, "manufacturing"),  # other attribution, below 4
        complaint_case_decision(
            supplier, month, "supplier_component", validity="unjustified"
        ),  # not upheld
        complaint_case_decision(
            supplier, month + timedelta(days=40), "supplier_component"
        ),  # next month
    ]
    complaints = [c for c, _, _ in seven + noise]
    openings = [o for _, o, _ in seven + noise]
    decisions = [d for _, _, d in seven + noise]
    # The last case's decision and opening arrive before its complaint: events on two topics cross.
    await produce(infra.kafka_bootstrap_servers, CASES_TOPIC, *openings, *decisions, decisions[0])
    await produce(infra.kafka_bootstrap_servers, COMPLAINTS_TOPIC, *complaints, complaints[3])

    async def raised():
        listed = (await analytics_client.get("/v1/analytics/alerts")).json()
        return [a for a in listed if a["subject"] == supplier] or None

    (alert,) = await eventually(raised)
    assert alert["attribution"] == "supplier_component"
    assert alert["period_start"] == "2033-05-01" and alert["period_end"] == "2033-06-01"
    assert alert["threshold"] == 6

    async def counted():
        rows = (
            await analytics_client.get(
                "/v1/analytics/supplier-defects",
                params={"from": "2033-05-01T00:00:00Z", "to": "2033-07-01T00:00:00Z"},
            )
        ).json()
        mine = [r for r in rows if r["supplier"] == supplier]
        # Every decision counted: June's arrives on the cases topic, apart from its complaint.
        settled = len(mine) == 2 and mine[0]["decided"] == 9 and mine[1]["decided"] == 1
        return mine if settled else None

    may, june = await eventually(counted)
    assert (may["complaints"], may["decided"], may["upheld"], may["manufacturing"]) == (9, 9, 8, 1)
    assert may["above_threshold"] is True and may["upheld_share"] == round(8 / 9, 4)
    assert (june["supplier_component"], june["above_threshold"]) == (1, False)
    assert await alert_events(analytics_client, supplier) == [ALERT_RAISED]
    csv = await analytics_client.get(
        "/v1/analytics/supplier-defects",
        params={"from": "2033-05-01T00:00:00", "to": "2033-07-01T00:00:00", "tz": "UTC"},
        headers={"Accept": "text/csv"},
    )
    assert csv.headers["content-type"].startswith("text/csv")
    assert f"{supplier},2033-05-01,9,9,8,0.8889,7,1,6,4,true" in csv.text.splitlines()

    # One decision is revised to unjustified: 6 is not more than 6, so the alert clears.
    _, _, first = seven[0]
    revised = decision_event(
        first.payload().case_id,
        first.payload().complaint_id,
        "unjustified",
        "supplier_component",
        datetime(2033, 5, 20, tzinfo=UTC),
    )
    await produce(infra.kafka_bootstrap_servers, CASES_TOPIC, revised)

    async def cleared():
        listed = (
            await analytics_client.get("/v1/analytics/alerts", params={"active": "true"})
        ).json()
        return not [a for a in listed if a["subject"] == supplier]

    await eventually(cleared)
    assert await alert_events(analytics_client, supplier) == [ALERT_RAISED, ALERT_CLEARED]

    # A late decision older than the revision changes nothing; the counters the handlers keep
    # (what the alert is evaluated against) are what the facts recount to.
    late = decision_event(
        first.payload().case_id,
        first.payload().complaint_id,
        "justified",
        "supplier_component",
        datetime(2033, 5, 10, tzinfo=UTC),
    )
    await produce(infra.kafka_bootstrap_servers, CASES_TOPIC, late, revised)
    counts = tables.supplier_defect_counts
    mine = {
        (date(2033, 5, 1), "supplier_component"): 6,
        (date(2033, 5, 1), "manufacturing"): 1,
        (date(2033, 6, 1), "supplier_component"): 1,
    }

    async def kept():
        async with analytics_client.app.state.runtime.session_factory() as session:
            rows = await session.execute(
                select(counts.c.period_start, counts.c.attribution, counts.c.upheld).where(
                    counts.c.supplier == supplier
                )
            )
            found = {(r.period_start, r.attribution): r.upheld for r in rows}
            recount = {
                tuple(r[:3]): r[3]
                for r in await session.execute(alerts.recounted_supplier_defects())
            }
            everything = {
                (r.supplier, r.period_start, r.attribution): r.upheld
                for r in await session.execute(select(counts))
            }
        return (found == mine and everything == recount) or None

    await eventually(kept)
    assert await alert_events(analytics_client, supplier) == [ALERT_RAISED, ALERT_CLEARED]
