"""Notes, responses, decisions, remedies and satisfaction over HTTP against real PostgreSQL."""

from __future__ import annotations

from redress_shared.events import (
    CASE_DECISION_RECORDED,
    CASE_REMEDY_CHANGED,
    CASE_RESPONSE_ADDED,
    CASE_SATISFACTION_RECORDED,
)
from redress_testing import assert_problem
from sqlalchemy import select


async def events_of(client, case_id: str) -> list[tuple[str, dict]]:
    runtime = client.app.state.runtime
    outbox = runtime.tables.outbox
    async with runtime.session_factory() as session:
        rows = await session.execute(
            select(outbox.c.event).where(outbox.c.message_key == case_id).order_by(outbox.c.id)
        )
        return [(row.event["type"], row.event["data"]) for row in rows]


async def test_a_response_meets_the_first_response_clock_and_is_published(cases_client, open_case):
    case = await open_case()
    base = f"/v1/cases/{case['id']}"
    note = await cases_client.post(
        f"{base}/messages", json={"kind": "note", "body": "Checking stock."}
    )
    assert note.status_code == 201
    clocks = {c["clock"]: c for c in (await cases_client.get(base)).json()["clocks"]}
    assert clocks["first_response"]["state"] == "running"  # a note is not a response

    reply = await cases_client.post(
        f"{base}/messages",
        json={"kind": "response", "body": "A new charger ships today."},
        headers={"If-Match": '"2"'},
    )
    assert reply.status_code == 201, reply.text
    read = await cases_client.get(base)
    assert read.headers["etag"] == '"3"'
    clocks = {c["clock"]: c for c in read.json()["clocks"]}
    assert clocks["first_response"]["state"] == "met"
    assert clocks["acknowledge"]["state"] == "met"
    published = [
        data
        for kind, data in await events_of(cases_client, case["id"])
        if kind == CASE_RESPONSE_ADDED
    ]
    assert [p["message"] for p in published] == ["A new charger ships today."]
    outcomes = (await cases_client.get(f"{base}/outcomes")).json()
    assert [m["kind"] for m in outcomes["messages"]] == ["note", "response"]
    assert_problem(
        await cases_client.post(f"{base}/messages", json={"kind": "response", "body": ""}),
        422,
        "validation-error",
    )


async def test_decisions_follow_the_rules_and_revisions_are_kept(cases_client, open_case):
    case = await open_case()
    base = f"/v1/cases/{case['id']}"
    refused = assert_problem(
        await cases_client.put(
            f"{base}/decision", json={"validity": "unjustified", "explanation": "Misuse."}
        ),
        422,
        "invalid-outcome",
    )
    assert "way forward" in refused["detail"]
    assert (await cases_client.get(f"{base}/outcomes")).json()["decision"] is None

    first = await cases_client.put(
        f"{base}/decision",
        json={
            "validity": "unjustified",
            "explanation": "Misuse.",
            "way_forward": "A 30 % discount.",
            "root_cause": "misuse",
        },
    )
    assert first.status_code == 200, first.text
    second = await cases_client.put(
        f"{base}/decision", json={"validity": "justified", "root_cause": "supplier_component"}
    )
    assert second.json()["validity"] == "justified"
    history = [
        e
        for e in (await cases_client.get(f"{base}/events")).json()
        if e["action"] == "decision_recorded"
    ]
    assert [(e["before"], e["after"]["validity"]) for e in history] == [
        (None, "unjustified"),
        ({"validity": "unjustified", "root_cause": "misuse"}, "justified"),
    ]
    decisions = [
        d for kind, d in await events_of(cases_client, case["id"]) if kind == CASE_DECISION_RECORDED
    ]
    assert [d["validity"] for d in decisions] == ["unjustified", "justified"]
    # The customer-facing texts travel for the notification service (never to webhooks).
    assert (
        decisions[0]["explanation"] == "Misuse."
        and decisions[0]["way_forward"] == "A 30 % discount."
    )
    assert decisions[0]["complaint_id"] == case["complaint_id"]


async def test_remedies_above_the_threshold_wait_for_a_team_lead(cases_client, open_case):
    case = await open_case()
    base = f"/v1/cases/{case['id']}"
    assert_problem(
        await cases_client.post(
            f"{base}/remedies", json={"remedy_type": "refund", "amount": "-5", "currency": "EUR"}
        ),
        422,
        "validation-error",
    )
    assert_problem(
        await cases_client.post(f"{base}/remedies", json={"remedy_type": "refund", "amount": "5"}),
        422,
        "validation-error",
    )
    small = (
        await cases_client.post(
            f"{base}/remedies", json={"remedy_type": "discount", "amount": "20", "currency": "EUR"}
        )
    ).json()
    assert small["status"] == "offered"
    big = (
        await cases_client.post(
            f"{base}/remedies",
            json={
                "remedy_type": "refund",
                "amount": "249.00",
                "currency": "EUR",
                "method": "bank transfer",
                "due_date": "2026-12-15",
            },
        )
    ).json()
    assert big["status"] == "pending_approval"

    agent_key = (
        await cases_client.post(
            "/v1/api-keys", json={"name": "agent", "scopes": ["cases:write", "cases:read"]}
        )
    ).json()["key"]
    lead_key = (
        await cases_client.post(
            "/v1/api-keys", json={"name": "lead", "scopes": ["cases:write", "remedies:approve"]}
        )
    ).json()["key"]
    act = f"{base}/remedies/{big['id']}/actions"
    denied = await cases_client.post(
        act, json={"action": "approve"}, headers={"Authorization": f"Bearer {agent_key}"}
    )
    assert assert_problem(denied, 403, "forbidden")["required_scope"] == "remedies:approve"
    assert_problem(
        await cases_client.post(act, json={"action": "accept"}), 409, "illegal-remedy-action"
    )
    approved = await cases_client.post(
        act, json={"action": "approve"}, headers={"Authorization": f"Bearer {lead_key}"}
    )
    assert approved.json()["status"] == "offered"
    for action, expected in (("accept", "accepted"), ("deliver", "delivered")):
        assert (await cases_client.post(act, json={"action": action})).json()["status"] == expected

    changes = [
        d for kind, d in await events_of(cases_client, case["id"]) if kind == CASE_REMEDY_CHANGED
    ]
    assert [(c["remedy_type"], c["status"]) for c in changes] == [
        ("discount", "offered"),
        ("refund", "pending_approval"),
        ("refund", "offered"),
        ("refund", "accepted"),
        ("refund", "delivered"),
    ]
    assert changes[1]["amount"] == "249.00" and changes[1]["currency"] == "EUR"


async def test_satisfaction_coefficient_and_bad_surveys(cases_client, open_case):
    case = await open_case()
    base = f"/v1/cases/{case['id']}/satisfaction"
    eleven = {"criteria": [{"name": "speed", "score": 11, "weight": 100}]}
    assert_problem(await cases_client.post(base, json=eleven), 422, "validation-error")
    lopsided = {
        "criteria": [
            {"name": "speed", "score": 5, "weight": 60},
            {"name": "outcome", "score": 5, "weight": 30},
        ]
    }
    assert (
        "add up to 100"
        in assert_problem(await cases_client.post(base, json=lopsided), 422, "invalid-outcome")[
            "detail"
        ]
    )
    survey = {
        "criteria": [
            {"name": "speed", "score": 6, "weight": 30},
            {"name": "outcome", "score": 8, "weight": 50},
            {"name": "courtesy", "score": 9, "weight": 20},
        ],
        "would_recommend": False,
        "would_continue": True,
    }
    recorded = await cases_client.post(base, json=survey)
    assert recorded.status_code == 201, recorded.text
    assert recorded.json()["coefficient"] == "7.60"
    assert recorded.json()["needs_action"] is True
    assert_problem(await cases_client.post(base, json=survey), 409, "conflict")
    (published,) = [
        d
        for kind, d in await events_of(cases_client, case["id"])
        if kind == CASE_SATISFACTION_RECORDED
    ]
    assert published["coefficient"] == "7.60" and published["would_recommend"] is False
