"""SLA figures from real case events: exact under duplicates, replays under new ids and
out-of-order arrival; the open cases at risk follow the latest facts."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from redress_shared.events import CASES_TOPIC
from redress_testing import assert_problem, eventually, produce
from redress_testing.case_stories import CaseStory, redelivered


def _group(body: dict, priority: str, team: str) -> dict:
    (found,) = [g for g in body["groups"] if g["priority"] == priority and g["team"] == team]
    return found


async def test_sla_shares_times_and_cases_at_risk(analytics_client, infra):
    team = f"team-{uuid.uuid4().hex[:6]}"
    year = 2040 + uuid.uuid4().int % 40
    t0 = datetime(year, 3, 2, 10, tzinfo=UTC)
    minutes = lambda n: t0 + timedelta(minutes=n)  # noqa: E731

    # A: everything in time (ack and first response 30 min, resolved after 120 min).
    a = CaseStory(t0, priority="high", team=team)
    a_events = [a.opened, a.respond(minutes(30)), a.act("resolve", "resolved", minutes(120))]
    # B: acknowledged late (the breach came first), asked the customer at 180 min, the
    # resolution clock warned: open and at risk.
    b = CaseStory(t0, priority="high", team=team)
    b_breach = b.sla("acknowledge", breached=True, at=minutes(45))
    b_events = [
        b.opened,
        b_breach,
        b.act("acknowledge", "acknowledged", minutes(60)),
        b.act("start", "investigating", minutes(90)),
        b.act("request_info", "awaiting_customer", minutes(180)),
        b.sla("resolve", breached=False, at=minutes(600)),
    ]
    # C: opened for another team, moved to ours; never acknowledged, breached: at risk.
    c = CaseStory(t0, priority="normal", team="elsewhere")
    c_events = [
        c.opened,
        c.assign(team, minutes(5)),
        c.sla("acknowledge", breached=False, at=minutes(48)),
        c.sla("acknowledge", breached=True, at=minutes(60)),
    ]
    # D: acknowledged half an hour after its deadline, before the case service's timer
    # reported the breach: a breach all the same.
    d = CaseStory(t0, priority="high", team=team)
    d_events = [d.opened, d.act("acknowledge", "acknowledged", minutes(90))]
    # E: opened long ago and never touched: past its deadline now, at risk although no
    # breach event ever arrived (outside the window, so only in the at-risk list).
    e = CaseStory(datetime(2020, 1, 6, 9, tzinfo=UTC), priority="normal", team=team)
    # Out of order (A's resolution and C's move before their openings), an exact
    # redelivery, and B's breach replayed under a new event id.
    stream = [
        a_events[2],
        c_events[1],
        *a_events[:2],
        *b_events,
        c.opened,
        *c_events[2:],
        *d_events,
        e.opened,
    ]
    await produce(
        infra.kafka_bootstrap_servers, CASES_TOPIC, *stream, b_events[2], redelivered(b_breach)
    )

    params = {"from": f"{year}-03-01T00:00:00Z", "to": f"{year}-04-01T00:00:00Z", "team": team}

    async def counted():
        body = (await analytics_client.get("/v1/analytics/sla", params=params)).json()
        total = [g for g in body["groups"] if g["priority"] == "all"]
        ready = (
            total
            and total[0]["cases"] == 4
            and total[0]["resolve"]["met"] == 1
            and total[0]["acknowledge"]["breached"] == 3
            and body["at_risk_total"] == 3
            and _group(body, "high", team)["first_response"]["met"] == 2
        )
        return body if ready else None

    body = await eventually(counted)
    assert body["time_zone"] == "UTC"
    high = _group(body, "high", team)
    assert high["cases"] == 3
    assert high["acknowledge"] == {
        "met": 1,
        "breached": 2,
        "pending": 0,
        "within_target_share": 0.3333,
        "median_minutes": 60.0,
        "p90_minutes": 84.0,
    }
    assert high["first_response"] == {
        "met": 2,
        "breached": 0,
        "pending": 1,
        "within_target_share": 1.0,
        "median_minutes": 105.0,
        "p90_minutes": 165.0,
    }
    assert (high["resolve"]["met"], high["resolve"]["pending"]) == (1, 2)
    assert high["resolve"]["median_minutes"] == 120.0
    normal = _group(body, "normal", team)  # C counts for the team it was moved to
    assert (normal["cases"], normal["acknowledge"]["breached"]) == (1, 1)
    assert normal["acknowledge"]["within_target_share"] == 0.0
    assert normal["first_response"]["pending"] == 1
    assert _group(body, "high", "all")["cases"] == 3
    assert _group(body, "all", "all")["acknowledge"]["breached"] == 3

    at_risk = [(r["case_id"], r["clock"], r["state"]) for r in body["at_risk"]]
    assert at_risk == [
        (str(e.case_id), "acknowledge", "breached"),
        (str(c.case_id), "acknowledge", "breached"),
        (str(b.case_id), "resolve", "warning"),
    ]
    assert body["at_risk"][0]["since"] == e.due.acknowledge_by.isoformat().replace("+00:00", "Z")
    assert body["at_risk"][1]["due_at"] == c.due.acknowledge_by.isoformat().replace("+00:00", "Z")

    csv = await analytics_client.get(
        "/v1/analytics/sla", params=params, headers={"Accept": "text/csv"}
    )
    assert csv.headers["content-type"].startswith("text/csv")
    lines = csv.text.strip().splitlines()
    assert lines[0].startswith("priority,team,cases,clock,met,breached,pending")
    assert f"high,{team},3,acknowledge,1,2,0,0.3333,60.0,84.0" in lines
    assert len(lines) == 1 + 3 * len(body["groups"])

    # C is acknowledged at last (a late event): no longer at risk; B's clock still is.
    await produce(
        infra.kafka_bootstrap_servers,
        CASES_TOPIC,
        c.act("acknowledge", "acknowledged", minutes(70)),
    )

    async def c_acknowledged():
        body = (await analytics_client.get("/v1/analytics/sla", params=params)).json()
        # The groups and the at-risk list read one snapshot: once the list shows the late
        # acknowledgement, the groups show it too.
        return body if body["at_risk_total"] == 2 else None

    body = await eventually(c_acknowledged)
    assert [r["case_id"] for r in body["at_risk"]] == [str(e.case_id), str(b.case_id)]
    # Acknowledged after its breach: counted once, as breached, not as met.
    assert _group(body, "normal", team)["acknowledge"]["met"] == 0
    assert _group(body, "normal", team)["acknowledge"]["median_minutes"] == 70.0

    # Resolving B takes it off the list; a window without cases has no groups but the total.
    await produce(
        infra.kafka_bootstrap_servers, CASES_TOPIC, b.act("resolve", "resolved", minutes(900))
    )

    async def b_resolved():
        body = (await analytics_client.get("/v1/analytics/sla", params=params)).json()
        return body if body["at_risk_total"] == 1 else None

    await eventually(b_resolved)
    empty = (
        await analytics_client.get(
            "/v1/analytics/sla",
            params={**params, "from": f"{year}-05-01T00:00:00Z", "to": f"{year}-06-01T00:00:00Z"},
        )
    ).json()
    assert [(g["priority"], g["team"], g["cases"]) for g in empty["groups"]] == [("all", "all", 0)]


async def test_bad_sla_queries_are_problems(analytics_client):
    get = analytics_client.get
    assert_problem(
        await get(
            "/v1/analytics/sla",
            params={"from": "2026-02-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"},
        ),
        422,
        "invalid-range",
    )
    assert_problem(
        await get("/v1/analytics/sla", params={"tz": "Nowhere/City"}), 422, "unknown-time-zone"
    )
    assert_problem(
        await get("/v1/analytics/sla", params={"at_risk_limit": "-1"}), 422, "validation-error"
    )
