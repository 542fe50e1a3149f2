"""Routing rules on open, reassignment and escalation with reasons, breach to the team lead."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from redress_shared.clock import FixedClock
from redress_testing import assert_problem


async def test_rules_route_new_cases_and_moves_are_explained(cases_client, open_case):
    category = f"route-{uuid.uuid4().hex[:6]}"
    assert (
        await cases_client.put("/v1/teams/billing", json={"lead": "billing-lead"})
    ).status_code == 200
    assert_problem(
        await cases_client.put("/v1/routing-rules", json=[{"team": "nobody"}]), 422, "unknown-team"
    )
    rules = [{"team": "billing", "category": category}]
    assert (await cases_client.put("/v1/routing-rules", json=rules)).status_code == 200
    try:
        routed = await open_case(category=category)
        unrouted = await open_case()
    finally:
        await cases_client.put("/v1/routing-rules", json=[])
    assert routed["team"] == "billing" and unrouted["team"] == "general"
    opened = (await cases_client.get(f"/v1/cases/{routed['id']}/events")).json()[0]
    assert opened["after"]["team"] == "billing" and opened["after"]["routing_rule"] == 0

    url = f"/v1/cases/{routed['id']}/assignment"
    assigned = await cases_client.post(url, json={"assignee": "agent-ion"})
    assert assigned.json()["assignee"] == "agent-ion"
    assert_problem(
        await cases_client.post(url, json={"assignee": "agent-maria"}), 422, "reason-required"
    )
    assert_problem(await cases_client.post(url, json={"escalate": True}), 422, "reason-required")
    assert_problem(
        await cases_client.post(url, json={"team": "nowhere", "reason": "x"}), 422, "unknown-team"
    )
    escalation = await cases_client.post(
        url, json={"escalate": True, "reason": "Threatens to go to court"}
    )
    assert escalation.json()["assignee"] == "billing-lead"
    assert escalation.json()["priority"] == "high"
    history = (await cases_client.get(f"/v1/cases/{routed['id']}/events")).json()
    last = history[-1]
    assert last["action"] == "escalated"
    assert last["before"]["assignee"] == "agent-ion"
    assert last["after"]["reason"] == "Threatens to go to court"
    mine = (
        await cases_client.get(
            "/v1/cases", params={"assignee": "billing-lead", "category": category}
        )
    ).json()
    assert [c["id"] for c in mine["items"]] == [routed["id"]]


async def test_a_breach_lands_on_the_team_leads_desk(cases_client, open_case, fire_all_due_timers):
    received = datetime(2037, 2, 2, 9, tzinfo=UTC)
    case = await open_case(received_at=received)
    await cases_client.post(f"/v1/cases/{case['id']}/assignment", json={"assignee": "agent-ion"})
    await fire_all_due_timers(
        cases_client.app.state.runtime.session_factory,
        FixedClock(received + timedelta(days=1, minutes=1)),
    )
    read = (await cases_client.get(f"/v1/cases/{case['id']}")).json()
    assert read["assignee"] == "general-lead"
    assert read["priority"] == "high"
