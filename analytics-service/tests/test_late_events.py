"""Late events land in their own period: an event for last week updates last week's
figures and leaves this week's alone."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from redress_shared.events import CASES_TOPIC, COMPLAINTS_TOPIC
from redress_testing import eventually, produce
from redress_testing.case_stories import CaseStory, complaint_received


async def test_a_late_complaint_and_a_late_acknowledgement_update_last_week(
    analytics_client, infra
):
    team = f"late-{uuid.uuid4().hex[:6]}"
    category = f"late-{uuid.uuid4().hex[:6]}"
    # Mondays, so that weekly buckets start there.
    last_week = datetime(2035, 1, 1, 9, tzinfo=UTC) + timedelta(weeks=uuid.uuid4().int % 500)
    this_week = last_week + timedelta(weeks=1)
    window = {
        "from": last_week.date().isoformat(),
        "to": (this_week + timedelta(days=7)).date().isoformat(),
    }

    old_case, new_case = CaseStory(last_week, team=team), CaseStory(this_week, team=team)
    await produce(
        infra.kafka_bootstrap_servers,
        COMPLAINTS_TOPIC,
        complaint_received(last_week, category=category),
        complaint_received(this_week, category=category),
        complaint_received(this_week + timedelta(hours=1), category=category),
    )
    await produce(
        infra.kafka_bootstrap_servers,
        CASES_TOPIC,
        old_case.opened,
        new_case.opened,
        new_case.act("acknowledge", "acknowledged", this_week + timedelta(minutes=30)),
    )

    async def weekly(expected: list[int]):
        async def probe():
            trend = (
                await analytics_client.get(
                    "/v1/analytics/trends",
                    params={**window, "bucket": "week", "group_by": "category"},
                )
            ).json()
            counts = [p["count"] for p in trend["series"] if p["group"] == category]
            return counts if counts == expected else None

        return await eventually(probe)

    async def acknowledged(start: datetime, expected_met: int):
        async def probe():
            body = (
                await analytics_client.get(
                    "/v1/analytics/sla",
                    params={
                        "from": start.isoformat(),
                        "to": (start + timedelta(days=7)).isoformat(),
                        "team": team,
                    },
                )
            ).json()
            total = body["groups"][-1]
            ready = total["cases"] == 1 and total["acknowledge"]["met"] == expected_met
            return total if ready else None

        return await eventually(probe)

    await weekly([1, 2])
    await acknowledged(last_week, 0)
    this_week_before = await acknowledged(this_week, 1)

    # Both arrive after this week's facts: each updates last week only.
    await produce(
        infra.kafka_bootstrap_servers,
        COMPLAINTS_TOPIC,
        complaint_received(last_week + timedelta(days=2), category=category),
    )
    await produce(
        infra.kafka_bootstrap_servers,
        CASES_TOPIC,
        old_case.act("acknowledge", "acknowledged", last_week + timedelta(minutes=20)),
    )
    await weekly([2, 2])
    last_week_after = await acknowledged(last_week, 1)
    assert last_week_after["acknowledge"]["median_minutes"] == 20.0
    assert await acknowledged(this_week, 1) == this_week_before
