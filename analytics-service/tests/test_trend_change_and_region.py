"""Trends compare each group with the window just before, and group by the customer's
region (the country of the phone number)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from redress_shared.events import COMPLAINTS_TOPIC
from redress_testing import eventually, produce
from redress_testing.case_stories import complaint_received


async def test_change_against_the_previous_window_and_regions(analytics_client, infra):
    year = 2900 + uuid.uuid4().int % 90
    year += year % 4 == 0  # not a leap year: the window before March 1 starts on Feb 27
    now = lambda d, h=10: datetime(year, 3, d, h, tzinfo=UTC)  # noqa: E731
    before = lambda d, h=10: datetime(year, 2, d, h, tzinfo=UTC)  # noqa: E731
    current = [
        complaint_received(now(1), category="delivery", phone="+40 721 000 000"),
        complaint_received(now(1, 15), category="delivery", phone="+40721234567"),
        complaint_received(now(2), category="delivery", phone="+38641123456"),
        complaint_received(now(2, 11), category="product_defect"),
        complaint_received(now(2, 12), category="product_defect", phone="+37120000000"),
    ]
    # The window before [Mar 1, Mar 3) is [Feb 27, Mar 1): two deliveries, one billing.
    previous = [
        complaint_received(before(27), category="delivery", phone="+40721234567"),
        complaint_received(before(28), category="delivery"),
        complaint_received(before(28, 23), category="billing"),
        complaint_received(before(26), category="delivery"),  # before the previous window
    ]
    await produce(infra.kafka_bootstrap_servers, COMPLAINTS_TOPIC, *current, *previous, current[0])
    params = {"from": f"{year}-03-01T00:00:00Z", "to": f"{year}-03-03T00:00:00Z"}

    async def counted():
        trend = (await analytics_client.get("/v1/analytics/trends", params=params)).json()
        done = sum(trend["totals"].values()) == 5 and "billing" in trend["change"]
        return trend if done else None

    trend = await eventually(counted)
    assert trend["previous_from"].startswith(f"{year}-02-27T00:00:00")
    assert trend["change"] == {
        "billing": {"current": 0, "previous": 1, "difference": -1, "relative": -1.0},
        "delivery": {"current": 3, "previous": 2, "difference": 1, "relative": 0.5},
        "product_defect": {"current": 2, "previous": 0, "difference": 2, "relative": None},
    }

    by_region = (
        await analytics_client.get("/v1/analytics/trends", params={**params, "group_by": "region"})
    ).json()
    assert by_region["totals"] == {"RO": 2, "SI": 1, "LV": 1, "unknown": 1}
    assert by_region["change"]["RO"] == {
        "current": 2,
        "previous": 1,
        "difference": 1,
        "relative": 1.0,
    }
