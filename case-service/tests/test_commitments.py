"""Commitments: kept, cancelled, and missed ones escalate once across replicas."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

from case_service.commitments import service as commitments
from redress_shared.clock import FixedClock
from redress_shared.events import CASE_COMMITMENT_MISSED
from redress_testing import assert_problem
from sqlalchemy import select


async def test_commitments_are_kept_or_cancelled_and_bad_ones_refused(cases_client, open_case):
    case = await open_case()
    base = f"/v1/cases/{case['id']}/commitments"
    soon = (datetime.now(UTC) + timedelta(hours=3)).isoformat()
    assert_problem(
        await cases_client.post(
            base, json={"description": "call", "due_at": "2020-01-01T10:00:00Z"}
        ),
        422,
        "invalid-commitment",
    )
    assert_problem(
        await cases_client.post(
            base, json={"description": "call", "due_at": "2099-01-01T10:00:00"}
        ),
        422,
        "invalid-commitment",
    )
    made = await cases_client.post(
        base, json={"description": "Call back before 17:00", "due_at": soon}
    )
    assert made.status_code == 201, made.text
    url = f"{base}/{made.json()['id']}/actions"
    assert (await cases_client.post(url, json={"action": "keep"})).json()["status"] == "kept"
    assert_problem(
        await cases_client.post(url, json={"action": "cancel"}), 409, "commitment-settled"
    )
    history = [
        e["action"] for e in (await cases_client.get(f"/v1/cases/{case['id']}/events")).json()
    ]
    assert history[-2:] == ["commitment_made", "commitment_kept"]


async def test_a_missed_commitment_escalates_once(cases_client, open_case):
    factory = cases_client.app.state.runtime.session_factory
    case = await open_case()
    due = datetime(2036, 1, 1, 15, tzinfo=UTC)  # beyond anything the app's real clock reaches
    made = await cases_client.post(
        f"/v1/cases/{case['id']}/commitments",
        json={"description": "Call back", "due_at": due.isoformat()},
    )
    assert made.status_code == 201
    late = FixedClock(due + timedelta(seconds=5))
    fired = await asyncio.gather(
        *(commitments.fire_missed_commitments(factory, late) for _ in range(3))
    )
    assert sum(fired) == 1
    read = (await cases_client.get(f"/v1/cases/{case['id']}")).json()
    assert read["priority"] == "high"
    # Like an SLA breach, the miss moves the case to the team lead (general team's lead).
    assert read["assignee"] == "general-lead"
    history = (await cases_client.get(f"/v1/cases/{case['id']}/events")).json()
    (missed,) = [e for e in history if e["action"] == "commitment_missed"]
    assert missed["actor"] == "sla-timer"
    assert missed["before"] == {"priority": "normal", "assignee": None}
    assert missed["after"]["assignee"] == "general-lead"
    outbox = cases_client.app.state.runtime.tables.outbox
    async with factory() as session:
        events = (
            await session.execute(
                select(outbox.c.event).where(
                    outbox.c.message_key == case["id"],
                    outbox.c.event["type"].astext == CASE_COMMITMENT_MISSED,
                )
            )
        ).all()
    assert len(events) == 1
    assert events[0].event["data"]["commitment_id"] == made.json()["id"]
    assert_problem(
        await cases_client.post(
            f"/v1/cases/{case['id']}/commitments/{uuid.uuid4()}/actions", json={"action": "keep"}
        ),
        404,
        "not-found",
    )
