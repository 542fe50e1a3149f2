"""Calendars and SLA policies over HTTP: validation, and new cases using them."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from redress_testing import assert_problem

OFFICE = {
    "time_zone": "Europe/Bucharest",
    "hours": {day: [["09:00", "17:00"]] for day in ("mon", "tue", "wed", "thu", "fri")},
    "holidays": ["2031-03-07"],
}


async def test_bad_calendars_and_policies_are_refused(cases_client):
    overlapping = {**OFFICE, "hours": {"mon": [["09:00", "13:00"], ["12:00", "17:00"]]}}
    body = assert_problem(
        await cases_client.put("/v1/calendars/overlap", json=overlapping), 422, "invalid-calendar"
    )
    assert "overlap" in body["detail"]
    assert_problem(
        await cases_client.put("/v1/calendars/zone", json={**OFFICE, "time_zone": "Mars/Base"}),
        422,
        "invalid-calendar",
    )
    assert_problem(
        await cases_client.put(
            "/v1/calendars/hours", json={**OFFICE, "hours": {"mon": [["9am", "5pm"]]}}
        ),
        422,
        "validation-error",
    )
    assert_problem(
        await cases_client.put("/v1/calendars/Bad%20Name", json=OFFICE), 422, "validation-error"
    )
    listed = {c["name"] for c in (await cases_client.get("/v1/calendars")).json()}
    assert not listed & {"overlap", "zone", "hours"}

    policy = {
        "priority": "low",
        "acknowledge_within_minutes": 60,
        "first_response_within_minutes": 120,
        "resolve_within_minutes": 600,
        "calendar": "no-such-calendar",
    }
    assert_problem(
        await cases_client.put("/v1/sla-policies/low-office", json=policy), 422, "unknown-calendar"
    )
    assert_problem(
        await cases_client.put(
            "/v1/sla-policies/low-office", json={**policy, "calendar": "24x7", "warning_share": 1.5}
        ),
        422,
        "validation-error",
    )
    # 'normal' is already covered by normal-default.
    assert_problem(
        await cases_client.put(
            "/v1/sla-policies/another-normal",
            json={**policy, "calendar": "24x7", "priority": "normal"},
        ),
        409,
        "conflict",
    )


async def test_a_new_case_counts_business_hours_of_its_policy_calendar(cases_client, open_case):
    assert (
        await cases_client.put("/v1/calendars/bucharest-office", json=OFFICE)
    ).status_code == 200
    policies = {p["priority"]: p for p in (await cases_client.get("/v1/sla-policies")).json()}
    original = policies["urgent"]
    office_policy = {
        "priority": "urgent",
        "acknowledge_within_minutes": 120,
        "first_response_within_minutes": 240,
        "resolve_within_minutes": 960,
        "calendar": "bucharest-office",
        "warning_share": 0.5,
        "statutory_cap_days": 30,
    }
    response = await cases_client.put(f"/v1/sla-policies/{original['name']}", json=office_policy)
    assert response.status_code == 200, response.text
    try:
        # Thursday 2031-03-06 16:00 local; Friday 03-07 is a holiday; the weekend is closed.
        received = datetime(2031, 3, 6, 16, 0, tzinfo=ZoneInfo("Europe/Bucharest"))
        case = await open_case(category="outage", received_at=received)
    finally:
        restore = {k: v for k, v in original.items() if k != "name"}
        await cases_client.put(f"/v1/sla-policies/{original['name']}", json=restore)
    assert case["priority"] == "urgent"
    local = ZoneInfo("Europe/Bucharest")
    # 1 business hour on Thursday, the second on Monday 09:00-10:00.
    assert datetime.fromisoformat(case["sla"]["acknowledge_by"]) == datetime(
        2031, 3, 10, 10, 0, tzinfo=local
    )
    # 16 business hours: 1 Thu + 8 Mon + 7 Tue.
    assert datetime.fromisoformat(case["sla"]["resolve_by"]) == datetime(
        2031, 3, 11, 16, 0, tzinfo=local
    )
    clocks = {
        c["clock"]: c for c in (await cases_client.get(f"/v1/cases/{case['id']}")).json()["clocks"]
    }
    assert clocks["acknowledge"]["target_seconds"] == int(timedelta(hours=2).total_seconds())
    # Warning at half the target: after the one business hour on Thursday.
    assert datetime.fromisoformat(clocks["acknowledge"]["warn_at"]) == datetime(
        2031, 3, 6, 17, 0, tzinfo=local
    )
