"""Outcome, satisfaction and customer figures from real events: latest facts win whatever
the arrival order, duplicates and replays count once, thresholds flag exactly."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from redress_shared.events import CASES_TOPIC, COMPLAINTS_TOPIC
from redress_testing import assert_problem, eventually, produce
from redress_testing.case_stories import CaseStory, complaint_received, redelivered


def _year() -> int:
    return 2100 + uuid.uuid4().int % 800


async def test_outcomes_count_latest_decisions_remedies_and_reopenings(analytics_client, infra):
    year = _year()
    day = lambda d, h=10: datetime(year, 4, d, h, tzinfo=UTC)  # noqa: E731
    s1, s2, s3, s4 = (CaseStory(day(1 + i)) for i in range(4))
    refund, declined, gesture, discount = (uuid.uuid4() for _ in range(4))
    delivered = s1.remedy(refund, "refund", "delivered", day(9), "49.90", "EUR")
    first_decision = s2.decide("partly_justified", day(5))
    events = [
        s1.opened,
        s1.decide("justified", day(3), "supplier_component"),
        delivered,
        # The offer of the same refund arrives late: the delivered state stays.
        s1.remedy(refund, "refund", "offered", day(4), "49.90", "EUR"),
        s1.act("start", "investigating", day(2)),
        s1.act("resolve", "resolved", day(6)),
        s1.act("reopen", "investigating", day(7)),
        s1.act("resolve", "resolved", day(8)),
        s2.opened,
        s2.decide("unjustified", day(6)),  # the revision...
        first_decision,  # ...and the older decision, late: unjustified stays
        s2.remedy(gesture, "apology_gesture", "offered", day(6)),
        s2.remedy(declined, "refund", "declined", day(7), "10.00", "EUR"),
        s3.opened,
        s3.decide("unjustified", day(4)),
        s3.remedy(discount, "discount", "accepted", day(5), "20.00", "RON"),
        s3.act("resolve", "resolved", day(6)),
        s4.opened,
        redelivered(delivered),
    ]
    await produce(infra.kafka_bootstrap_servers, CASES_TOPIC, *events, events[1])
    params = {"from": f"{year}-04-01T00:00:00Z", "to": f"{year}-05-01T00:00:00Z"}

    async def counted():
        body = (await analytics_client.get("/v1/analytics/outcomes", params=params)).json()
        ready = body["cases"] == 4 and body["decided"] == 3 and len(body["remedies"]) == 3
        return body if ready and body["resolved"] == 2 else None

    body = await eventually(counted)
    assert body["decisions"] == {"justified": 1, "partly_justified": 0, "unjustified": 2}
    assert body["decision_shares"]["unjustified"] == round(2 / 3, 4)
    assert body["remedies"] == [
        {"remedy_type": "apology_gesture", "remedies": 1, "declined": 0, "delivered": 0},
        {"remedy_type": "discount", "remedies": 1, "declined": 0, "delivered": 0},
        {"remedy_type": "refund", "remedies": 2, "declined": 1, "delivered": 1},
    ]
    assert body["remedy_value"] == [
        {"currency": "EUR", "remedies": 1, "total": "49.90"},
        {"currency": "RON", "remedies": 1, "total": "20.00"},
    ]
    assert (body["resolved"], body["reopened"], body["reopen_rate"]) == (2, 1, 0.5)

    csv = await analytics_client.get(
        "/v1/analytics/outcomes", params=params, headers={"Accept": "text/csv"}
    )
    lines = csv.text.strip().splitlines()
    assert lines[0] == "measure,key,count,value"
    assert "remedy_value,EUR,1,49.90" in lines and "reopen_rate,all,2,0.5" in lines
    assert "decision,unjustified,2," in lines


async def test_satisfaction_per_month_with_flags_and_response_rate(analytics_client, infra):
    year = _year()
    may = lambda d: datetime(year, 5, d, 12, tzinfo=UTC)  # noqa: E731
    june = lambda d: datetime(year, 6, d, 12, tzinfo=UTC)  # noqa: E731
    events = []
    # May: 12 cases closed, 10 surveys; mean coefficient 7.5; 3 of 10 would not recommend
    # (more than 2 in 10: flagged), 3 of 10 would not continue (not more than 3 in 10).
    coefficients = ["6.00", "7.00", "8.00", "9.00", "6.50", "8.50", "7.00", "8.00", "7.00", "8.00"]
    for i in range(12):
        story = CaseStory(may(1))
        events += [
            story.opened,
            story.act("resolve", "resolved", may(2)),
            story.act("close", "closed", may(3)),
        ]
        if i < 10:
            events.append(
                story.satisfaction(
                    coefficients[i], may(4), would_recommend=i >= 3, would_continue=i >= 3
                )
            )
    # June: 10 cases closed, 10 surveys at 9; exactly 2 in 10 would not recommend (not more
    # than the limit). One customer revised a survey: the later one counts.
    for i in range(10):
        story = CaseStory(june(1))
        events += [
            story.opened,
            story.act("resolve", "resolved", june(2)),
            story.act("close", "closed", june(3)),
        ]
        final = story.satisfaction("9.00", june(6), would_recommend=i >= 2)
        if i == 9:
            events += [
                final,
                story.satisfaction("3.00", june(5), would_recommend=False),
                redelivered(final),
            ]
        else:
            events.append(final)
    await produce(infra.kafka_bootstrap_servers, CASES_TOPIC, *events)
    params = {"from": f"{year}-05-01T00:00:00Z", "to": f"{year}-07-01T00:00:00Z"}

    async def counted():
        body = (await analytics_client.get("/v1/analytics/satisfaction", params=params)).json()
        periods = body["periods"]
        ready = len(periods) == 2 and [p["surveys"] for p in periods] == [10, 10]
        return body if ready and [p["cases_closed"] for p in periods] == [12, 10] else None

    body = await eventually(counted)
    may_figures, june_figures = body["periods"]
    assert may_figures["period_start"].startswith(f"{year}-05-01T00:00:00")
    assert may_figures["coefficient"] == 7.5
    assert may_figures["would_recommend_share"] == 0.7
    assert may_figures["would_continue_share"] == 0.7
    assert (may_figures["closed_with_survey"], may_figures["response_rate"]) == (10, 0.8333)
    assert may_figures["flags"] == ["coefficient_below_8", "would_not_recommend_above_2_in_10"]
    assert june_figures["coefficient"] == 9.0
    assert june_figures["would_recommend_share"] == 0.8
    assert june_figures["response_rate"] == 1.0
    assert june_figures["flags"] == []

    csv = await analytics_client.get(
        "/v1/analytics/satisfaction", params=params, headers={"Accept": "text/csv"}
    )
    lines = csv.text.strip().splitlines()
    assert lines[0].startswith("period_start,surveys,coefficient")
    assert lines[1].endswith(",10,0.8333,coefficient_below_8;would_not_recommend_above_2_in_10")

    # The flags of May are alerts (once each); June raises none.
    async def satisfaction_alerts(active: bool):
        listed = (
            await analytics_client.get(
                "/v1/analytics/alerts",
                params={"kind": "satisfaction", "active": str(active).lower()},
            )
        ).json()
        return {
            (a["period_start"], a["attribution"]): (a["count"], a["threshold"])
            for a in listed
            if a["period_start"].startswith(str(year))
        }

    assert await satisfaction_alerts(active=True) == {
        (f"{year}-05-01", "coefficient_below_8"): (50, 0),
        (f"{year}-05-01", "would_not_recommend_above_2_in_10"): (3, 2),
    }

    # Ten late May surveys at 8.5 that would recommend: the mean is 8.0 and 3 of 20 would
    # not recommend (not more than 2 in 10): both alerts clear.
    late = []
    for _ in range(10):
        story = CaseStory(may(1))
        late.append(story.satisfaction("8.50", may(20)))
    await produce(infra.kafka_bootstrap_servers, CASES_TOPIC, *late)

    async def cleared():
        return await satisfaction_alerts(active=True) == {} or None

    await eventually(cleared)
    assert set(await satisfaction_alerts(active=False)) == {
        (f"{year}-05-01", "coefficient_below_8"),
        (f"{year}-05-01", "would_not_recommend_above_2_in_10"),
    }

    assert_problem(
        await analytics_client.get(
            "/v1/analytics/satisfaction",
            params={"bucket": "hour", "from": "2016-01-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"},
        ),
        422,
        "invalid-range",
    )
    assert_problem(
        await analytics_client.get("/v1/analytics/satisfaction", params={"bucket": "fortnight"}),
        422,
        "validation-error",
    )


async def test_repeat_complainers_and_complaints_per_tier(analytics_client, infra):
    year = _year()
    at = lambda d: datetime(year, 7, d, 9, tzinfo=UTC)  # noqa: E731
    often, twice, once = (f"cust-{uuid.uuid4().hex[:8]}" for _ in range(3))
    complaints, cases = [], []
    for customer, days, tier in (
        (often, (1, 5, 9), "vip"),
        (twice, (2, 20), "standard"),
        (once, (3,), None),
    ):
        for d in days:
            complaint = complaint_received(at(d), customer_key=customer)
            complaints.append(complaint)
            if tier is not None:  # no case is known yet for the single complaint
                story = CaseStory(at(d), tier=tier, complaint_id=complaint.payload().complaint_id)
                cases.append(story.opened)
    # Outside the window: does not make the single complainer a repeat one.
    complaints.append(complaint_received(datetime(year, 8, 1, 9, tzinfo=UTC), customer_key=once))
    await produce(infra.kafka_bootstrap_servers, CASES_TOPIC, *cases)
    await produce(infra.kafka_bootstrap_servers, COMPLAINTS_TOPIC, *complaints, complaints[0])
    params = {"from": f"{year}-07-01T00:00:00Z", "to": f"{year}-08-01T00:00:00Z"}

    async def counted():
        body = (await analytics_client.get("/v1/analytics/customers", params=params)).json()
        tiers = {t["tier"]: t["complaints"] for t in body["tiers"]}
        return body if tiers == {"vip": 3, "standard": 2, "unknown": 1} else None

    body = await eventually(counted)
    assert [(r["customer_key"], r["complaints"]) for r in body["repeat_complainers"]] == [
        (often, 3),
        (twice, 2),
    ]
    assert (body["customers"], body["repeat_customers"], body["repeat_share"]) == (3, 2, 0.6667)
    assert body["repeat_complainers"][0]["first_at"].startswith(f"{year}-07-01T09:00:00")
    assert [t["customers"] for t in body["tiers"]] == [1, 1, 1]

    three = (
        await analytics_client.get(
            "/v1/analytics/customers", params={**params, "min_complaints": 3}
        )
    ).json()
    assert [r["customer_key"] for r in three["repeat_complainers"]] == [often]
    csv = await analytics_client.get(
        "/v1/analytics/customers", params=params, headers={"Accept": "text/csv"}
    )
    lines = csv.text.strip().splitlines()
    assert lines[0] == "kind,key,complaints,customers,first_at,last_at"
    assert "tier,vip,3,1,," in lines
    assert_problem(
        await analytics_client.get("/v1/analytics/customers", params={"min_complaints": 1}),
        422,
        "validation-error",
    )
