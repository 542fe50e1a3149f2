"""Trend counts from real events: exact under redelivery, bucketed in the asked time zone."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from aiokafka import AIOKafkaConsumer
from redress_shared.events import (
    COMPLAINT_RECEIVED,
    COMPLAINTS_TOPIC,
    ComplaintReceivedV1,
    CustomerContact,
    ProductRef,
    dead_letter_topic,
    new_event,
)
from redress_testing import assert_problem, eventually, produce


def received(at: datetime, category: str, supplier: str = "Voltix"):
    customer = CustomerContact(customer_key=str(uuid.uuid4()), email="x@example.com")
    payload = ComplaintReceivedV1(
        complaint_id=uuid.uuid4(),
        reference="RDR-2031-000001",
        received_at=at,
        channel="api",
        customer=customer,
        body="…",
        category=category,
        product=ProductRef(sku="CH-20"),
        supplier=supplier,
    )
    return new_event(
        source="/test", type=COMPLAINT_RECEIVED, key=customer.customer_key, payload=payload, time=at
    )


async def test_daily_trend_by_category_is_exact_despite_duplicates(analytics_client, infra):
    # A window no other test writes into.
    year = 2031 + uuid.uuid4().int % 50
    events = [
        received(datetime(year, 3, 1, 10, tzinfo=UTC), "product_defect"),
        received(datetime(year, 3, 1, 12, tzinfo=UTC), "product_defect"),
        received(datetime(year, 3, 1, 23, 30, tzinfo=UTC), "delivery"),
        received(datetime(year, 3, 2, 8, tzinfo=UTC), "product_defect", supplier="Ampero"),
    ]
    await produce(infra.kafka_bootstrap_servers, COMPLAINTS_TOPIC, *events, events[0], events[2])
    params = {
        "bucket": "day",
        "group_by": "category",
        "from": f"{year}-03-01T00:00:00Z",
        "to": f"{year}-03-03T00:00:00Z",
    }

    async def all_counted():
        trend = (await analytics_client.get("/v1/analytics/trends", params=params)).json()
        return trend if sum(trend["totals"].values()) >= 4 else None

    trend = await eventually(all_counted)
    assert trend["totals"] == {"product_defect": 3, "delivery": 1}
    assert [(p["bucket_start"][:10], p["group"], p["count"]) for p in trend["series"]] == [
        (f"{year}-03-01", "delivery", 1),
        (f"{year}-03-01", "product_defect", 2),
        (f"{year}-03-02", "product_defect", 1),
    ]

    # 23:30 UTC is already the next day in Bucharest (UTC+2).
    local = (
        await analytics_client.get(
            "/v1/analytics/trends", params={**params, "tz": "Europe/Bucharest"}
        )
    ).json()
    assert ("delivery", f"{year}-03-02") in {
        (p["group"], p["bucket_start"][:10]) for p in local["series"]
    }

    by_supplier = (
        await analytics_client.get(
            "/v1/analytics/trends", params={**params, "group_by": "supplier"}
        )
    ).json()
    assert by_supplier["totals"] == {"Voltix": 3, "Ampero": 1}

    csv = await analytics_client.get(
        "/v1/analytics/trends", params=params, headers={"Accept": "text/csv"}
    )
    assert csv.headers["content-type"].startswith("text/csv")
    lines = csv.text.strip().splitlines()
    assert lines[0] == "bucket_start,group,count"
    assert len(lines) == 4


async def test_bad_trend_queries_are_problems(analytics_client):
    get = analytics_client.get
    assert_problem(
        await get(
            "/v1/analytics/trends",
            params={"from": "2026-02-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"},
        ),
        422,
        "invalid-range",
    )
    assert_problem(
        await get("/v1/analytics/trends", params={"group_by": "shoe_size"}), 422, "validation-error"
    )
    assert_problem(
        await get(
            "/v1/analytics/trends",
            params={"bucket": "hour", "from": "2016-01-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"},
        ),
        422,
        "invalid-range",
    )
    assert_problem(
        await get("/v1/analytics/trends", params={"tz": "Mars/Olympus"}), 422, "unknown-time-zone"
    )


async def test_malformed_event_goes_to_the_dead_letter_topic(analytics_client, infra):
    marker = uuid.uuid4().hex.encode()
    await produce(
        infra.kafka_bootstrap_servers,
        COMPLAINTS_TOPIC,
        raw=[(marker, b"{not json", [("ce_type", COMPLAINT_RECEIVED.encode())])],
    )
    consumer = AIOKafkaConsumer(
        dead_letter_topic(COMPLAINTS_TOPIC),
        bootstrap_servers=infra.kafka_bootstrap_servers,
        group_id=f"dlq-reader-{uuid.uuid4()}",
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:

        async def dead_lettered():
            batches = await consumer.getmany(timeout_ms=500)
            for records in batches.values():
                for record in records:
                    headers = dict(record.headers)
                    if (
                        record.key == marker
                        and headers.get("redress_dlq_consumer") == b"analytics-service.facts"
                    ):
                        return headers
            return None

        headers = await eventually(dead_lettered)
    finally:
        await consumer.stop()
    assert b"malformed event" in headers["redress_dlq_error"]
    assert headers["redress_dlq_source"].startswith(COMPLAINTS_TOPIC.encode())
    # The service keeps consuming after the poison message.
    assert (await analytics_client.get("/readyz")).status_code == 200
