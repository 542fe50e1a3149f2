"""A complaint's case through every state, over real processes, with the stack's test clock.

The stack runs with ``--test-clock-file``: moving the offset in that file moves the time of
every service, so SLA deadlines pass without sleeping. Four complaints:

- A (the main case): new → acknowledged → investigating → awaiting_customer (the clock
  pauses while a day passes) → investigating → resolved → closed → reopened → resolved;
- B (the same customer again): suggested as A's likely duplicate, merged into A by the agent,
  then unmerged, which gives it a fresh resolution deadline from the unmerge;
- C: withdrawn;
- D: left untouched, so its acknowledgement and then its first-response deadline pass: each
  breach escalates once (priority up, to the team lead) and is published once.

The history (actor, before/after) and the events on ``redress.cases.v1`` are checked per case.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import httpx
import pytest
from redress_shared.events import (
    CASE_OPENED,
    CASE_SLA_BREACHED,
    CASE_STATUS_CHANGED,
    CASES_TOPIC,
)
from redress_testing import StackClock, eventually, recorded_topic, run_stack

ADMIN = "admin"  # the name of the admin API key: the actor of every agent action here


@pytest.fixture(scope="module")
def clocked_stack(tmp_path_factory: pytest.TempPathFactory):
    """The stack runner with a test clock; yields its description and the clock."""
    data_dir = tmp_path_factory.mktemp("clocked-stack")
    clock = StackClock(data_dir / "test-clock")
    for description in run_stack(data_dir, "--test-clock-file", str(clock.path)):
        yield description, clock


def complaint(email: str, subject: str, body: str) -> dict:
    return {
        "customer": {"name": "Ana Pop", "email": email, "language": "ro"},
        "subject": subject,
        "body": body,
        "category": "product_defect",
        "product": {"sku": "CH-20"},
    }


def at(entry: dict) -> datetime:
    return datetime.fromisoformat(entry["at"])


async def test_a_case_goes_through_every_state_with_breaches_merge_and_history(clocked_stack):
    stack, clock = clocked_stack
    intake, cases_url = stack["services"]["intake-service"], stack["services"]["case-service"]
    headers = {"Authorization": f"Bearer {stack['admin_key']}"}
    email = f"ana.{uuid.uuid4().hex[:8]}@example.com"
    async with (
        recorded_topic(stack["kafka_bootstrap_servers"], CASES_TOPIC) as topic,
        httpx.AsyncClient(headers=headers, timeout=60) as client,
    ):

        async def post(payload: dict) -> str:
            response = await client.post(f"{intake}/v1/complaints", json=payload)
            assert response.status_code == 202, response.text
            return response.json()["complaint_id"]

        async def case_of(complaint_id: str) -> dict:
            async def opened():
                page = await client.get(
                    f"{cases_url}/v1/cases", params={"complaint_id": complaint_id}
                )
                return page.json()["items"]

            (case,) = await eventually(opened, timeout=180)
            return case

        async def read(case_id: str) -> dict:
            response = await client.get(f"{cases_url}/v1/cases/{case_id}")
            assert response.status_code == 200, response.text
            return response.json()

        async def act(case_id: str, action: str, **data) -> dict:
            etag = (await client.get(f"{cases_url}/v1/cases/{case_id}")).headers["etag"]
            response = await client.post(
                f"{cases_url}/v1/cases/{case_id}/transitions",
                json={"action": action, **data},
                headers={"If-Match": etag},
            )
            assert response.status_code == 200, response.text
            return response.json()

        async def history(case_id: str) -> list[dict]:
            entries = (await client.get(f"{cases_url}/v1/cases/{case_id}/events")).json()
            # The notification service's outcomes arrive on their own schedule; not checked here.
            return [e for e in entries if not e["action"].startswith("notification_")]

        def clocks(case: dict) -> dict[str, dict]:
            return {c["clock"]: c for c in case["clocks"]}

        def events_of(case_id: str) -> list:
            return [e for e in topic if e.key == case_id]

        case_a = await case_of(
            await post(complaint(email, "Broken charger", "The charger stopped after two days."))
        )
        case_b = await case_of(
            await post(complaint(email, "Charger broken", "My charger stopped after two days!"))
        )
        other = f"other.{uuid.uuid4().hex[:8]}@example.com"
        case_c = await case_of(await post(complaint(other, "Late parcel", "Where is it?")))
        case_d = await case_of(await post(complaint(f"d.{other}", "Wrong colour", "Red, not blue")))
        a, b, c, d = (case["id"] for case in (case_a, case_b, case_c, case_d))
        assert {case["status"] for case in (case_a, case_b, case_c, case_d)} == {"new"}
        assert {case["priority"] for case in (case_a, case_b, case_c, case_d)} == {"normal"}

        # B is suggested as a likely duplicate of A (same customer, similar words); nothing
        # is merged until an agent confirms it.
        suggested = (await read(b))["duplicate_suggestions"]
        assert [s["case_id"] for s in suggested] == [a]
        assert (await read(b))["status"] == "new"

        # C is withdrawn; B is a duplicate of A, folded into it.
        await act(c, "withdraw", reason="The customer found the parcel.")
        await act(b, "start")
        merged = await act(b, "merge", into_case_id=a)
        assert (merged["status"], merged["merged_into"]) == ("merged", a)

        # A: acknowledged, investigated, then waiting on the customer: the clock pauses.
        await act(a, "acknowledge")
        await act(a, "start")
        await act(a, "request_info", reason="Please send a photo of the serial number.")
        paused = await read(a)
        assert paused["status"] == "awaiting_customer"
        assert clocks(paused)["resolve"]["state"] == "paused"
        resolve_due_before_pause = datetime.fromisoformat(paused["sla"]["resolve_by"])

        # A day and an hour pass: D's acknowledgement deadline (24 h) is missed.
        clock.advance(timedelta(hours=25))

        async def breached(case_id: str, clock_name: str):
            return [
                e
                for e in events_of(case_id)
                if e.type == CASE_SLA_BREACHED and e.data["clock"] == clock_name
            ]

        (ack_breach,) = await eventually(lambda: breached(d, "acknowledge"), timeout=120)
        assert (ack_breach.data["priority_before"], ack_breach.data["priority_after"]) == (
            "normal",
            "high",
        )
        escalated = await read(d)
        assert escalated["priority"] == "high"
        assert escalated["assignee"] == "general-lead", "a breach lands on the team lead's desk"
        assert clocks(escalated)["acknowledge"]["state"] == "breached"

        # A did not breach while paused; resuming moves its deadline by the pause.
        assert clocks(await read(a))["resolve"]["state"] == "paused"
        resumed = await act(a, "resume")
        a_history = await history(a)
        paused_for = at(a_history[-1]) - at(a_history[-2])
        assert paused_for >= timedelta(hours=25)
        assert datetime.fromisoformat(resumed["sla"]["resolve_by"]) == (
            resolve_due_before_pause + paused_for
        )

        # A is resolved, closed, reopened (a new resolution is owed) and resolved again.
        await act(a, "resolve", reason="A replacement charger was sent.")
        await act(a, "close")
        reopened = await act(a, "reopen", reason="The replacement fails the same way.")
        assert (reopened["status"], reopened["reopen_count"]) == ("investigating", 1)
        final_a = await act(a, "resolve", reason="Refund issued.")
        assert final_a["status"] == "resolved"

        # B is unmerged: it gets a fresh resolution deadline (14 days) from the unmerge.
        unmerged = await act(b, "unmerge")
        assert (unmerged["status"], unmerged["merged_into"]) == ("investigating", None)
        unmerge_entry = (await history(b))[-1]
        assert unmerge_entry["action"] == "unmerge"
        assert datetime.fromisoformat(unmerged["sla"]["resolve_by"]) == at(
            unmerge_entry
        ) + timedelta(days=14)
        assert datetime.fromisoformat(
            unmerge_entry["after"]["sla_restarted"]["resolve"]
        ) == datetime.fromisoformat(unmerged["sla"]["resolve_by"])

        # Another day: D's first-response deadline (48 h) passes; the acknowledgement breach
        # does not fire again on this or any later timer pass.
        clock.advance(timedelta(hours=24))
        (response_breach,) = await eventually(lambda: breached(d, "first_response"), timeout=120)
        assert response_breach.data["priority_after"] == "urgent"
        assert len(await breached(d, "acknowledge")) == 1
        assert (await read(d))["priority"] == "urgent"

        async def all_published():
            expected = {a: 9, b: 4, c: 2, d: 3}
            return all(len(events_of(case_id)) >= n for case_id, n in expected.items())

        await eventually(all_published, timeout=120)

        # The events on the topic, per case, in order.
        def summary(case_id: str) -> list[tuple]:
            return [
                (e.type, e.data.get("action") or e.data.get("clock")) for e in events_of(case_id)
            ]

        changed = CASE_STATUS_CHANGED
        assert summary(a) == [
            (CASE_OPENED, None),
            *[
                (changed, action)
                for action in (
                    "acknowledge",
                    "start",
                    "request_info",
                    "resume",
                    "resolve",
                    "close",
                    "reopen",
                    "resolve",
                )
            ],
        ]
        assert [e.data["to_status"] for e in events_of(a)[1:]] == [
            "acknowledged",
            "investigating",
            "awaiting_customer",
            "investigating",
            "resolved",
            "closed",
            "investigating",
            "resolved",
        ]
        assert summary(b) == [
            (CASE_OPENED, None),
            (changed, "start"),
            (changed, "merge"),
            (changed, "unmerge"),
        ]
        assert events_of(b)[2].data["merged_into"] == a
        # The events carry the deadlines after each change: the unmerge's fresh resolution,
        # the resume's moved one.
        assert datetime.fromisoformat(
            events_of(b)[3].data["due"]["resolve_by"]
        ) == datetime.fromisoformat(unmerged["sla"]["resolve_by"])
        assert datetime.fromisoformat(
            events_of(a)[4].data["due"]["resolve_by"]
        ) == datetime.fromisoformat(resumed["sla"]["resolve_by"])
        assert summary(c) == [(CASE_OPENED, None), (changed, "withdraw")]
        assert summary(d) == [
            (CASE_OPENED, None),
            (CASE_SLA_BREACHED, "acknowledge"),
            (CASE_SLA_BREACHED, "first_response"),
        ]
        assert all(
            e.data["actor"] == ADMIN for e in topic if e.type == changed and e.key in {a, b, c}
        )

        # The history: who, what, from what to what.
        a_history = await history(a)
        assert [e["action"] for e in a_history] == [
            "opened",
            "merged_in",
            "acknowledge",
            "start",
            "request_info",
            "resume",
            "resolve",
            "close",
            "reopen",
            "resolve",
            "unmerged",
        ]
        assert all(e["actor"] == ADMIN for e in a_history[1:])
        transitions = [e for e in a_history if e["before"] is not None]
        assert [(e["before"]["status"], e["after"]["status"]) for e in transitions] == [
            ("new", "acknowledged"),
            ("acknowledged", "investigating"),
            ("investigating", "awaiting_customer"),
            ("awaiting_customer", "investigating"),
            ("investigating", "resolved"),
            ("resolved", "closed"),
            ("closed", "investigating"),
            ("investigating", "resolved"),
        ]
        assert transitions[2]["after"]["reason"] == "Please send a photo of the serial number."
        folded = next(e for e in a_history if e["action"] == "merged_in")
        assert folded["after"]["duplicate_case_id"] == b

        b_history = await history(b)
        assert [e["action"] for e in b_history] == ["opened", "start", "merge", "unmerge"]
        assert b_history[2]["after"]["merged_into"] == a
        assert (b_history[3]["before"]["status"], b_history[3]["after"]["status"]) == (
            "merged",
            "investigating",
        )

        d_history = await history(d)
        assert [(e["actor"], e["action"]) for e in d_history] == [
            ("system", "opened"),
            ("sla-timer", "sla_breached"),
            ("sla-timer", "sla_breached"),
        ]
        assert d_history[1]["before"] == {"priority": "normal"}
        assert (d_history[1]["after"]["clock"], d_history[1]["after"]["priority"]) == (
            "acknowledge",
            "high",
        )
        assert d_history[2]["after"]["priority"] == "urgent"
