"""Case transitions over HTTP against real PostgreSQL: states, history, events, concurrency."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from case_service.cases.model import Action, CaseState, CaseStatus, IllegalTransition
from redress_shared.events import CASE_STATUS_CHANGED
from redress_testing import assert_problem
from sqlalchemy import select


async def act(client, case_id: str, action: str, etag: str | None = None, **data):
    headers = {"If-Match": etag} if etag else {}
    return await client.post(
        f"/v1/cases/{case_id}/transitions", json={"action": action, **data}, headers=headers
    )


async def status_events(client, case_id: str) -> list[dict]:
    runtime = client.app.state.runtime
    outbox = runtime.tables.outbox
    async with runtime.session_factory() as session:
        rows = await session.execute(
            select(outbox.c.event)
            .where(
                outbox.c.message_key == case_id,
                outbox.c.event["type"].astext == CASE_STATUS_CHANGED,
            )
            .order_by(outbox.c.id)
        )
        return [row.event["data"] for row in rows]


async def test_a_case_walks_through_its_lifecycle_with_history_and_events(cases_client, open_case):
    case = await open_case()
    case_id = case["id"]
    steps = [
        ("acknowledge", {}, "acknowledged"),
        ("start", {}, "investigating"),
        ("request_info", {"reason": "Photo of the serial number, please."}, "awaiting_customer"),
        ("resume", {}, "investigating"),
        ("resolve", {"reason": "Replacement sent."}, "resolved"),
        ("close", {}, "closed"),
        ("reopen", {"reason": "The replacement fails too."}, "investigating"),
        ("resolve", {"reason": "Refund issued."}, "resolved"),
        ("close", {}, "closed"),
    ]
    etag = (await cases_client.get(f"/v1/cases/{case_id}")).headers["etag"]
    for action, data, expected in steps:
        response = await act(cases_client, case_id, action, etag, **data)
        assert response.status_code == 200, response.text
        assert response.json()["status"] == expected
        assert response.headers["etag"] != etag
        etag = response.headers["etag"]
    final = (await cases_client.get(f"/v1/cases/{case_id}")).json()
    assert final["version"] == 1 + len(steps)
    assert final["reopen_count"] == 1
    assert final["closed_at"] is not None

    history = (await cases_client.get(f"/v1/cases/{case_id}/events")).json()
    assert [entry["action"] for entry in history] == ["opened"] + [step[0] for step in steps]
    reopened = history[7]
    assert reopened["before"]["status"] == "closed"
    restarted = reopened["after"].pop("sla_restarted")
    assert reopened["after"] == {
        "status": "investigating",
        "version": 8,
        "reopen_count": 1,
        "merged_into": None,
        "reason": "The replacement fails too.",
    }
    # A reopened case owes a new resolution, 14 days (normal policy) from the reopen.
    assert datetime.fromisoformat(restarted["resolve"]) == datetime.fromisoformat(
        reopened["at"]
    ) + timedelta(days=14)
    assert set(restarted) == {"resolve"}
    assert all(entry["actor"] == "admin" for entry in history[1:])

    events = await status_events(cases_client, case_id)
    assert [(e["action"], e["from_status"], e["to_status"]) for e in events] == [
        (action, before, after)
        for (action, _, after), before in zip(
            steps, ["new"] + [step[2] for step in steps[:-1]], strict=True
        )
    ]
    assert [e["version"] for e in events] == list(range(2, 2 + len(steps)))


async def test_an_illegal_transition_names_the_allowed_actions_and_changes_nothing(
    cases_client, open_case
):
    case = await open_case()
    problem = assert_problem(
        await act(cases_client, case["id"], "close"), 409, "illegal-transition"
    )
    assert problem["status_now"] == "new"
    assert sorted(problem["allowed_actions"]) == ["acknowledge", "merge", "start", "withdraw"]
    unchanged = (await cases_client.get(f"/v1/cases/{case['id']}")).json()
    assert unchanged["version"] == 1 and unchanged["status"] == "new"
    history = (await cases_client.get(f"/v1/cases/{case['id']}/events")).json()
    assert [entry["action"] for entry in history] == ["opened"]
    assert await status_events(cases_client, case["id"]) == []


async def test_actions_that_need_a_reason_refuse_without_one(cases_client, open_case):
    case = await open_case()
    assert_problem(
        await act(cases_client, case["id"], "withdraw"), 422, "invalid-transition-request"
    )
    assert_problem(
        await act(cases_client, case["id"], "withdraw", reason="  "),
        422,
        "invalid-transition-request",
    )
    withdrawn = await act(cases_client, case["id"], "withdraw", reason="Customer solved it alone.")
    assert withdrawn.json()["status"] == "withdrawn"
    problem = assert_problem(
        await act(cases_client, case["id"], "start"), 409, "illegal-transition"
    )
    assert problem["allowed_actions"] == []
    assert_problem(await act(cases_client, case["id"], "dance"), 422, "validation-error")


async def test_stale_if_match_is_refused_and_concurrent_edits_cannot_both_win(
    cases_client, open_case
):
    case = await open_case()
    case_id = case["id"]
    first = await act(cases_client, case_id, "acknowledge", '"1"')
    assert first.status_code == 200
    stale = assert_problem(await act(cases_client, case_id, "start", '"1"'), 412, "stale-version")
    assert stale["current_version"] == 2
    assert_problem(await act(cases_client, case_id, "start", "yesterday"), 400, "invalid-if-match")

    racers = await asyncio.gather(
        act(cases_client, case_id, "start", '"2"'),
        act(cases_client, case_id, "withdraw", '"2"', reason="duplicate of a phone call"),
    )
    assert sorted(r.status_code for r in racers) == [200, 412]
    history = (await cases_client.get(f"/v1/cases/{case_id}/events")).json()
    assert len(history) == 3  # opened, acknowledge, and exactly one of the racers


async def test_merge_folds_a_duplicate_into_its_primary_and_unmerge_restores_it(
    cases_client, open_case
):
    primary, duplicate = await open_case(), await open_case()
    assert_problem(
        await act(cases_client, duplicate["id"], "merge", into_case_id=duplicate["id"]),
        422,
        "invalid-transition-request",
    )
    assert_problem(
        await act(cases_client, duplicate["id"], "merge", into_case_id=str(uuid.uuid4())),
        422,
        "invalid-transition-request",
    )
    await act(cases_client, duplicate["id"], "start")
    merged = await act(cases_client, duplicate["id"], "merge", into_case_id=primary["id"])
    assert merged.status_code == 200, merged.text
    assert merged.json()["status"] == "merged"
    assert merged.json()["merged_into"] == primary["id"]

    primary_history = (await cases_client.get(f"/v1/cases/{primary['id']}/events")).json()
    assert primary_history[-1]["action"] == "merged_in"
    assert primary_history[-1]["after"]["duplicate_case_id"] == duplicate["id"]

    restored = await act(cases_client, duplicate["id"], "unmerge")
    assert restored.json()["status"] == "investigating"
    assert restored.json()["merged_into"] is None
    # The unmerged case owes a resolution afresh: 14 days (normal policy, 24x7) from the unmerge.
    (unmerged,) = [
        e
        for e in (await cases_client.get(f"/v1/cases/{duplicate['id']}/events")).json()
        if e["action"] == "unmerge"
    ]
    unmerged_at = datetime.fromisoformat(unmerged["at"])
    resolve_by = datetime.fromisoformat(restored.json()["sla"]["resolve_by"])
    assert resolve_by == unmerged_at + timedelta(days=14)
    assert resolve_by > datetime.fromisoformat(duplicate["sla"]["resolve_by"])
    assert unmerged["after"]["sla_restarted"]["resolve"] == resolve_by.isoformat()
    # The acknowledgement was met (started) before the merge: it is not owed again.
    assert "acknowledge" not in unmerged["after"]["sla_restarted"]
    clocks = {
        c["clock"]: c
        for c in (await cases_client.get(f"/v1/cases/{duplicate['id']}")).json()["clocks"]
    }
    assert clocks["resolve"]["state"] == "running"
    assert clocks["acknowledge"]["state"] == "met"
    primary_history = (await cases_client.get(f"/v1/cases/{primary['id']}/events")).json()
    assert primary_history[-1]["action"] == "unmerged"

    await act(cases_client, primary["id"], "withdraw", reason="test")
    assert_problem(
        await act(cases_client, duplicate["id"], "merge", into_case_id=primary["id"]),
        422,
        "invalid-transition-request",
    )


async def test_unknown_case_is_404(cases_client):
    assert_problem(await act(cases_client, str(uuid.uuid4()), "start"), 404, "not-found")


def test_reopen_only_within_the_window():
    closed_at = datetime(2026, 11, 1, 12, tzinfo=UTC)
    state = CaseState(CaseStatus.CLOSED, version=6, closed_at=closed_at)
    window = timedelta(days=14)
    reopened = state.apply(
        Action.REOPEN, now=closed_at + window, reopen_window=window, reason="still broken"
    )
    assert reopened.status is CaseStatus.INVESTIGATING and reopened.reopen_count == 1
    with pytest.raises(IllegalTransition) as refused:
        state.apply(
            Action.REOPEN,
            now=closed_at + window + timedelta(seconds=1),
            reopen_window=window,
            reason="still broken",
        )
    assert "can no longer be reopened" in str(refused.value)
    assert refused.value.allowed == []


def test_unmerge_renews_the_clocks_the_merge_cancelled_with_the_policys_targets():
    from case_service.cases.model import clocks_after
    from case_service.sla.model import ALWAYS, ClockName, ClockState, start_clocks

    received = datetime(2026, 11, 2, 9, tzinfo=UTC)
    clocks = {
        c.name: c
        for c in start_clocks(
            received_at=received,
            targets={
                ClockName.ACKNOWLEDGE: timedelta(hours=24),
                ClockName.FIRST_RESPONSE: timedelta(days=2),
                ClockName.RESOLVE: timedelta(days=14),
            },
            calendar=ALWAYS,
            warning_share=0.8,
            statutory_cap=timedelta(days=30),
        )
    }
    acknowledged = clocks_after(Action.ACKNOWLEDGE, clocks, received + timedelta(hours=1), ALWAYS)
    merged = clocks_after(Action.MERGE, acknowledged, received + timedelta(days=3), ALWAYS)
    assert merged[ClockName.RESOLVE].state is ClockState.CANCELLED
    unmerged_at = received + timedelta(days=20)
    unmerged = clocks_after(
        Action.UNMERGE,
        merged,
        unmerged_at,
        ALWAYS,
        {ClockName.FIRST_RESPONSE: timedelta(days=1), ClockName.RESOLVE: timedelta(days=7)},
    )
    assert unmerged[ClockName.ACKNOWLEDGE].state is ClockState.MET
    first_response = unmerged[ClockName.FIRST_RESPONSE]
    assert first_response.state is ClockState.RUNNING
    assert first_response.due_at == unmerged_at + timedelta(days=1)
    resolve = unmerged[ClockName.RESOLVE]
    assert (resolve.started_at, resolve.target) == (unmerged_at, timedelta(days=7))
    # 20 + 7 days would pass the statutory 30 days from receipt... it does not: 27 < 30.
    assert resolve.due_at == unmerged_at + timedelta(days=7)
    assert resolve.warn_at == unmerged_at + timedelta(days=7) * 0.8
    # But the cap from receipt still holds for a case unmerged late.
    late = clocks_after(Action.UNMERGE, merged, received + timedelta(days=28), ALWAYS)
    assert late[ClockName.RESOLVE].due_at == received + timedelta(days=30)
