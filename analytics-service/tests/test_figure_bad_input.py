"""Bad input to the figures: clear problem+json for bad windows and parameters, and a case
event the service cannot read goes to the dead-letter topic without stopping consumption."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from aiokafka import AIOKafkaConsumer
from redress_shared.events import CASE_STATUS_CHANGED, CASES_TOPIC, dead_letter_topic, new_event
from redress_testing import assert_problem, eventually, produce
from redress_testing.case_stories import CaseStory

FIGURES = ["trends", "supplier-defects", "sla", "outcomes", "satisfaction", "customers"]


@pytest.mark.parametrize("figure", FIGURES)
async def test_from_after_to_and_unknown_time_zone(analytics_client, figure):
    url = f"/v1/analytics/{figure}"
    backwards = {"from": "2026-03-01T00:00:00Z", "to": "2026-02-01T00:00:00Z"}
    body = assert_problem(await analytics_client.get(url, params=backwards), 422, "invalid-range")
    assert "before" in body["detail"]
    same = {"from": "2026-03-01T00:00:00Z", "to": "2026-03-01T00:00:00Z"}
    assert_problem(await analytics_client.get(url, params=same), 422, "invalid-range")
    assert_problem(
        await analytics_client.get(url, params={"tz": "Atlantis/Capital"}), 422, "unknown-time-zone"
    )
    assert_problem(
        await analytics_client.get(url, params={"from": "last tuesday"}), 422, "validation-error"
    )


@pytest.mark.parametrize("figure", ["trends", "satisfaction"])
async def test_ten_years_by_hour_is_too_many_buckets(analytics_client, figure):
    body = assert_problem(
        await analytics_client.get(
            f"/v1/analytics/{figure}",
            params={"bucket": "hour", "from": "2016-01-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"},
        ),
        422,
        "invalid-range",
    )
    assert "buckets" in body["detail"]


async def test_unknown_group_and_alert_kind_filters(analytics_client):
    assert_problem(
        await analytics_client.get("/v1/analytics/trends", params={"group_by": "zodiac_sign"}),
        422,
        "validation-error",
    )
    # An alert kind nobody raises is an empty list, not an error.
    listed = await analytics_client.get("/v1/analytics/alerts", params={"kind": "no-such-kind"})
    assert (listed.status_code, listed.json()) == (200, [])


async def test_case_event_with_an_unreadable_payload_is_dead_lettered(analytics_client, infra):
    story = CaseStory(datetime(2031, 1, 5, 9, tzinfo=UTC), team=f"t-{uuid.uuid4().hex[:6]}")
    # A well-formed CloudEvent whose data misses required fields (version, to_status...).
    poison = new_event(
        source="/elsewhere",
        type=CASE_STATUS_CHANGED,
        key=str(story.case_id),
        payload=story.opened.payload(),
        time=story.opened_at,
    ).model_copy(update={"data": {"case_id": str(story.case_id), "action": "resolve"}})
    await produce(infra.kafka_bootstrap_servers, CASES_TOPIC, poison, story.opened)
    consumer = AIOKafkaConsumer(
        dead_letter_topic(CASES_TOPIC),
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
                    if headers.get("ce_id") == str(poison.id).encode():
                        return headers
            return None

        headers = await eventually(dead_lettered)
    finally:
        await consumer.stop()
    assert headers["redress_dlq_consumer"] == b"analytics-service.facts"
    assert b"validation errors for CaseStatusChangedV1" in headers["redress_dlq_error"]

    # The case opened after the poison record is counted: consumption went on.
    async def counted():
        body = (
            await analytics_client.get(
                "/v1/analytics/sla",
                params={
                    "from": "2031-01-01T00:00:00Z",
                    "to": "2031-02-01T00:00:00Z",
                    "team": story.opened.payload().team,
                },
            )
        ).json()
        return body if body["groups"][-1]["cases"] == 1 else None

    await eventually(counted)
