"""Incidents from real complaint events: a steady background raises nothing, a burst raises
exactly one alert with its members (whatever the arrival order), which clears when the burst
is over."""

from __future__ import annotations

import math
import uuid
from datetime import UTC, datetime, timedelta

from analytics_service.alerts.model import IncidentRule
from redress_shared.events import ALERT_CLEARED, ALERT_RAISED, COMPLAINTS_TOPIC
from redress_testing import eventually, produce
from redress_testing.case_stories import complaint_received
from sqlalchemy import select


async def alert_event_types(client, alert_id: str) -> list[tuple[str, list | None]]:
    outbox = client.app.state.runtime.tables.outbox
    async with client.app.state.runtime.session_factory() as session:
        rows = await session.execute(
            select(outbox.c.event)
            .where(outbox.c.event["data"]["alert_id"].astext == alert_id)
            .order_by(outbox.c.id)
        )
        return [(row.event["type"], row.event["data"].get("members")) for row in rows]


async def test_a_burst_above_a_steady_background_is_one_incident(analytics_client, infra):
    sku = f"SKU-{uuid.uuid4().hex[:6]}"
    start = datetime(2990 + uuid.uuid4().int % 9, 1, 1, tzinfo=UTC)

    def complaint(at: datetime, category: str = "outage", product: str = sku):
        return complaint_received(at, category=category, sku=product)

    # Eight days of one complaint every three hours (expected per hour: 1/3), plus another
    # category of the same product: never a spike.
    background = [complaint(start + timedelta(hours=3 * i)) for i in range(64)]
    other = [complaint(start + timedelta(hours=3 * i, minutes=30), "billing") for i in range(64)]
    await produce(infra.kafka_bootstrap_servers, COMPLAINTS_TOPIC, *background, *other)
    last_background = background[-1].payload().received_at
    params = {"from": start.isoformat(), "to": (start + timedelta(days=30)).isoformat()}

    async def counted(total: int):
        async def probe():
            trend = (
                await analytics_client.get(
                    "/v1/analytics/trends",
                    params={**params, "group_by": "product", "bucket": "week"},
                )
            ).json()
            return trend if trend["totals"].get(sku) == total else None

        return await eventually(probe)

    await counted(128)

    async def incidents():
        listed = (
            await analytics_client.get("/v1/analytics/alerts", params={"kind": "incident"})
        ).json()
        return [a for a in listed if a["subject"].endswith(f"/{sku}")]

    assert await incidents() == []

    # Eight outage complaints in 35 minutes, 65 minutes after the last background one,
    # arriving newest first (and one twice). Expected per hour: 56 × 60 / 10080 = 1/3, so the
    # spike threshold is max(5, ⌈4/3⌉, 1 + 6) = 7: P(Poisson(1/3) ≥ 6) ≈ 2e-6 ≤ 1e-5.
    burst_start = last_background + timedelta(minutes=65)
    burst = [complaint(burst_start + timedelta(minutes=5 * i)) for i in range(8)]
    await produce(infra.kafka_bootstrap_servers, COMPLAINTS_TOPIC, *reversed(burst), burst[0])

    async def raised():
        found = await incidents()
        return found if found and found[0]["count"] == 8 else None

    (alert,) = await eventually(raised)
    members = sorted(str(e.payload().complaint_id) for e in burst)
    assert sorted(alert["members"]) == members
    assert (alert["subject"], alert["attribution"]) == (f"outage/{sku}", "product")
    # An alert is raised when count exceeds threshold: 7 complaints reach the spike.
    assert alert["cleared_at"] is None and alert["threshold"] == 6
    assert alert["first_member_at"] == burst[0].payload().received_at.isoformat().replace(
        "+00:00", "Z"
    )

    # The background goes on: the first complaint a whole hour after the burst ends it.
    after = [
        complaint(burst[-1].payload().received_at + timedelta(hours=3 * (i + 1))) for i in range(4)
    ]
    await produce(infra.kafka_bootstrap_servers, COMPLAINTS_TOPIC, *after)

    async def cleared():
        found = await incidents()
        return found if found and found[0]["cleared_at"] else None

    (alert,) = await eventually(cleared)
    assert sorted(alert["members"]) == members
    events = await alert_event_types(analytics_client, alert["id"])
    assert [t for t, _ in events] == [ALERT_RAISED, ALERT_CLEARED]
    # Raised as soon as seven had arrived (the first spike window); cleared with all eight.
    assert len(events[0][1]) == 7 and set(events[0][1]) <= set(members)
    assert sorted(events[1][1]) == members
    await counted(128 + 8 + 4)
    assert len(await incidents()) == 1


async def test_a_regional_outage_across_products_is_one_incident(analytics_client, infra):
    category = f"outage-{uuid.uuid4().hex[:6]}"
    at = datetime(2999, 6, 1, 12, tzinfo=UTC) - timedelta(days=uuid.uuid4().int % 100)
    # Six customers in Latvia, six different products, twenty minutes: a regional incident;
    # two in Romania at the same time are not part of it.
    latvia = [
        complaint_received(
            at + timedelta(minutes=4 * i), category=category, sku=f"P-{i}", phone="+37120000000"
        )
        for i in range(6)
    ]
    romania = [
        complaint_received(at, category=category, sku="P-0", phone="+40721234567"),
        complaint_received(
            at + timedelta(minutes=1), category=category, sku="P-1", phone="+40721234568"
        ),
    ]
    await produce(infra.kafka_bootstrap_servers, COMPLAINTS_TOPIC, *latvia, *romania)

    async def raised():
        listed = (
            await analytics_client.get("/v1/analytics/alerts", params={"kind": "incident"})
        ).json()
        mine = [a for a in listed if a["subject"].startswith(f"{category}/")]
        return mine if mine and mine[0]["count"] == 6 else None

    (alert,) = await eventually(raised)
    assert (alert["subject"], alert["attribution"]) == (f"{category}/LV", "region")
    assert sorted(alert["members"]) == sorted(str(e.payload().complaint_id) for e in latvia)


async def test_one_product_failing_in_one_country_is_one_incident_not_two(analytics_client, infra):
    category = f"outage-{uuid.uuid4().hex[:6]}"
    at = datetime(2998, 3, 1, 8, tzinfo=UTC) - timedelta(days=uuid.uuid4().int % 100)
    burst = [
        complaint_received(
            at + timedelta(minutes=3 * i), category=category, sku="RT-5", phone="+38641123456"
        )
        for i in range(7)
    ]
    await produce(infra.kafka_bootstrap_servers, COMPLAINTS_TOPIC, *burst)

    async def raised():
        listed = (
            await analytics_client.get("/v1/analytics/alerts", params={"kind": "incident"})
        ).json()
        mine = [a for a in listed if a["subject"].startswith(f"{category}/")]
        return mine if mine and mine[0]["count"] == 7 else None

    (alert,) = await eventually(raised)
    assert (alert["subject"], alert["attribution"]) == (f"{category}/RT-5", "product")
    # The same seven complaints are also one region's: no second incident for them.
    listed = (
        await analytics_client.get("/v1/analytics/alerts", params={"kind": "incident"})
    ).json()
    assert [a["subject"] for a in listed if a["subject"].startswith(f"{category}/")] == [
        f"{category}/RT-5"
    ]


def test_the_spike_threshold_bounds_false_alarms_on_a_steady_background():
    rule = IncidentRule()
    # No history: the minimum count; a busy group needs more than k times its rate.
    assert rule.threshold(0) == 5
    assert rule.threshold(56) == 7  # 1/3 an hour: the Poisson bound decides
    assert rule.threshold(1680) == 40  # 10 an hour: k × expected decides
    for baseline in (0, 7, 56, 168, 336, 840, 1680):
        expected = rule.expected(baseline)
        others = rule.threshold(baseline) - 1  # besides the complaint just arrived
        tail = 1 - sum(math.exp(-expected) * expected**i / math.factorial(i) for i in range(others))
        assert tail <= rule.false_alarm_probability
