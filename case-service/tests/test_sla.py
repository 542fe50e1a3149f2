"""SLA clocks and timers with an injected clock against real PostgreSQL: warning, breach,
escalation, pause and resume, statutory cap, and no double firing across replicas."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

from case_service import tables
from case_service.cases import service
from case_service.cases.model import Action
from case_service.sla import service as sla_service
from case_service.sla import store as sla_store
from case_service.sla.model import ClockName
from redress_shared.clock import FixedClock
from redress_shared.events import CASE_SLA_BREACHED, CASE_SLA_WARNING
from sqlalchemy import select

# Far in the future, so the running app's own timer loop (real time) never reaches them.
RECEIVED = datetime(2031, 3, 3, 9, 0, tzinfo=UTC)


async def sla_events(app, case_id: str) -> list[tuple[str, str]]:
    outbox = app.state.runtime.tables.outbox
    async with app.state.runtime.session_factory() as session:
        rows = await session.execute(
            select(outbox.c.event)
            .where(
                outbox.c.message_key == case_id,
                outbox.c.event["type"].astext.in_([CASE_SLA_WARNING, CASE_SLA_BREACHED]),
            )
            .order_by(outbox.c.id)
        )
        return [(row.event["type"].split(".")[-2], row.event["data"]["clock"]) for row in rows]


async def test_warning_then_breach_fire_once_across_replicas_and_escalate(cases_client, open_case):
    app = cases_client.app
    factory = app.state.runtime.session_factory
    case = await open_case(received_at=RECEIVED)  # normal priority: acknowledge within 24 h
    clock = FixedClock(RECEIVED + timedelta(hours=19, minutes=13))  # past 80 % of 24 h
    await asyncio.gather(*(sla_service.fire_due_timers(factory, clock) for _ in range(3)))
    assert await sla_events(app, case["id"]) == [("sla_warning", "acknowledge")]

    clock.advance(timedelta(hours=5))  # 24 h 13 min after receipt: breached
    fired = await asyncio.gather(*(sla_service.fire_due_timers(factory, clock) for _ in range(3)))
    assert await sla_events(app, case["id"]) == [
        ("sla_warning", "acknowledge"),
        ("sla_breached", "acknowledge"),
    ]
    assert sum(fired) == 1  # three replicas, one breach
    assert await sla_service.fire_due_timers(factory, clock) == 0

    read = (await cases_client.get(f"/v1/cases/{case['id']}")).json()
    assert read["priority"] == "high"  # escalated from normal
    acknowledge = next(c for c in read["clocks"] if c["clock"] == "acknowledge")
    assert acknowledge["state"] == "breached"
    history = (await cases_client.get(f"/v1/cases/{case['id']}/events")).json()
    breach = next(entry for entry in history if entry["action"] == "sla_breached")
    assert breach["before"] == {"priority": "normal"}
    assert breach["after"]["priority"] == "high"
    assert "acknowledge deadline passed" in breach["after"]["reason"]

    # Acknowledging late stops the clock but it stays breached; nothing fires again.
    await service.transition_case(
        factory,
        clock,
        case_id=uuid.UUID(case["id"]),
        action=Action.ACKNOWLEDGE,
        actor="agent",
        reopen_window=timedelta(days=14),
    )
    clock.advance(timedelta(hours=1))
    await sla_service.fire_due_timers(factory, clock)
    assert [kind for kind, name in await sla_events(app, case["id"]) if name == "acknowledge"] == [
        "sla_warning",
        "sla_breached",
    ]


async def test_waiting_on_the_customer_pauses_the_resolution_clock(cases_client, open_case):
    factory = cases_client.app.state.runtime.session_factory
    case = await open_case(received_at=RECEIVED)
    case_id = uuid.UUID(case["id"])
    window = timedelta(days=14)
    clock = FixedClock(RECEIVED + timedelta(hours=2))
    await service.transition_case(
        factory, clock, case_id=case_id, action=Action.START, actor="a", reopen_window=window
    )
    await service.transition_case(
        factory,
        clock,
        case_id=case_id,
        action=Action.REQUEST_INFO,
        actor="a",
        reopen_window=window,
        reason="Which charger model?",
    )
    before = {
        c["clock"]: c for c in (await cases_client.get(f"/v1/cases/{case_id}")).json()["clocks"]
    }
    assert before["resolve"]["state"] == "paused"
    assert before["acknowledge"]["state"] == "met"
    assert before["first_response"]["state"] == "met"  # asking the customer is a human response

    clock.advance(timedelta(days=3))  # the customer takes three days to answer
    await service.transition_case(
        factory, clock, case_id=case_id, action=Action.RESUME, actor="a", reopen_window=window
    )
    async with factory() as session:
        _, clocks = await sla_store.load_clocks(session, case_id)
    resolve = clocks[ClockName.RESOLVE]
    assert resolve.state.value == "running"
    assert resolve.due_at == RECEIVED + timedelta(days=14) + timedelta(days=3)
    assert resolve.paused_total == timedelta(days=3)
    row = (await cases_client.get(f"/v1/cases/{case_id}")).json()
    assert datetime.fromisoformat(row["sla"]["resolve_by"]) == resolve.due_at


async def test_statutory_cap_is_not_extended_by_pauses(cases_client, open_case):
    factory = cases_client.app.state.runtime.session_factory
    case = await open_case(received_at=RECEIVED)  # an API complaint is written: 30-day cap
    case_id = uuid.UUID(case["id"])
    window = timedelta(days=14)
    clock = FixedClock(RECEIVED + timedelta(days=1))
    await service.transition_case(
        factory, clock, case_id=case_id, action=Action.START, actor="a", reopen_window=window
    )
    await service.transition_case(
        factory,
        clock,
        case_id=case_id,
        action=Action.REQUEST_INFO,
        actor="a",
        reopen_window=window,
        reason="?",
    )
    clock.advance(timedelta(days=40))  # a very long wait
    await service.transition_case(
        factory, clock, case_id=case_id, action=Action.RESUME, actor="a", reopen_window=window
    )
    async with factory() as session:
        _, clocks = await sla_store.load_clocks(session, case_id)
    assert clocks[ClockName.RESOLVE].due_at == RECEIVED + timedelta(days=30)


async def test_a_policy_edit_applies_to_new_cases_only(cases_client, open_case):
    factory = cases_client.app.state.runtime.session_factory
    first = await open_case(received_at=RECEIVED)
    policies = tables.sla_policies
    async with factory() as session, session.begin():
        original = (
            await session.execute(select(policies).where(policies.c.priority == "normal"))
        ).one()
        await session.execute(
            policies.update()
            .where(policies.c.priority == "normal")
            .values(acknowledge_within=timedelta(hours=2))
        )
    try:
        second = await open_case(received_at=RECEIVED)
    finally:
        async with factory() as session, session.begin():
            await session.execute(
                policies.update()
                .where(policies.c.priority == "normal")
                .values(acknowledge_within=original.acknowledge_within)
            )
    first_due = datetime.fromisoformat(
        (await cases_client.get(f"/v1/cases/{first['id']}")).json()["sla"]["acknowledge_by"]
    )
    second_due = datetime.fromisoformat(second["sla"]["acknowledge_by"])
    assert first_due == RECEIVED + timedelta(hours=24)
    assert second_due == RECEIVED + timedelta(hours=2)


async def test_a_priority_change_mid_flight_keeps_the_deadlines_already_set(
    cases_client, open_case
):
    """Escalating re-orders the queue; it does not move deadlines already counted (otherwise
    a breach, which escalates, would cascade into the tighter targets of the next priority)."""
    factory = cases_client.app.state.runtime.session_factory
    received = RECEIVED + timedelta(days=200)
    case = await open_case(received_at=received)  # normal: acknowledge within 24 h
    escalation = await cases_client.post(
        f"/v1/cases/{case['id']}/assignment",
        json={"escalate": True, "reason": "The customer is a hospital"},
    )
    assert escalation.json()["priority"] == "high"
    read = (await cases_client.get(f"/v1/cases/{case['id']}")).json()
    assert read["sla"] == case["sla"]
    assert {c["clock"]: c["target_seconds"] for c in read["clocks"]}["acknowledge"] == 24 * 3600

    # Five hours in: past the high policy's 4 h acknowledgement, but not the case's 24 h.
    # (Counts of fired timers are not checked: other tests' cases share the database.)
    await sla_service.fire_due_timers(factory, FixedClock(received + timedelta(hours=5)))
    assert await sla_events(cases_client.app, case["id"]) == []
    await sla_service.fire_due_timers(
        factory, FixedClock(received + timedelta(hours=24, minutes=1))
    )
    assert await sla_events(cases_client.app, case["id"]) == [("sla_breached", "acknowledge")]
    assert (await cases_client.get(f"/v1/cases/{case['id']}")).json()["priority"] == "urgent"


async def test_a_reopened_case_owes_a_new_resolution_that_breaches_once(cases_client, open_case):
    app = cases_client.app
    factory = app.state.runtime.session_factory
    received = RECEIVED + timedelta(days=400)
    case = await open_case(received_at=received)
    case_id = uuid.UUID(case["id"])
    window = timedelta(days=14)
    clock = FixedClock(received + timedelta(hours=1))

    async def transition(action: Action, reason: str | None = None) -> None:
        await service.transition_case(
            factory,
            clock,
            case_id=case_id,
            action=action,
            actor="agent",
            reopen_window=window,
            reason=reason,
        )

    await transition(Action.START)
    await transition(Action.RESOLVE, "Replacement sent")
    await transition(Action.CLOSE)
    clock.advance(timedelta(days=3))
    reopened_at = clock.now()
    await transition(Action.REOPEN, "The replacement fails too")
    async with factory() as session:
        _, clocks = await sla_store.load_clocks(session, case_id)
    resolve = clocks[ClockName.RESOLVE]
    assert (resolve.state.value, resolve.started_at) == ("running", reopened_at)
    assert resolve.due_at == reopened_at + timedelta(days=14)
    # The old deadline (14 days from receipt) passes without a breach: a new one is owed.
    await sla_service.fire_due_timers(factory, FixedClock(received + timedelta(days=14, hours=1)))
    assert await sla_events(app, case["id"]) == []
    late = FixedClock(reopened_at + timedelta(days=14, minutes=1))
    await asyncio.gather(*(sla_service.fire_due_timers(factory, late) for _ in range(3)))
    await sla_service.fire_due_timers(factory, late)
    assert await sla_events(app, case["id"]) == [("sla_breached", "resolve")]


async def test_a_policy_edit_through_the_api_leaves_open_cases_and_their_history_alone(
    cases_client, open_case
):
    received = RECEIVED + timedelta(days=600)
    first = await open_case(received_at=received)
    url = "/v1/sla-policies/normal-default"
    (original,) = [
        p
        for p in (await cases_client.get("/v1/sla-policies")).json()
        if p["name"] == "normal-default"
    ]
    edited = {k: v for k, v in original.items() if k != "name"} | {
        "resolve_within_minutes": 60 * 24 * 3
    }
    assert (await cases_client.put(url, json=edited)).status_code == 200
    try:
        second = await open_case(received_at=received)
    finally:
        restore = {k: v for k, v in original.items() if k != "name"}
        assert (await cases_client.put(url, json=restore)).status_code == 200
    read = (await cases_client.get(f"/v1/cases/{first['id']}")).json()
    assert read["sla"] == first["sla"]
    resolve = next(c for c in read["clocks"] if c["clock"] == "resolve")
    assert resolve["target_seconds"] == 14 * 86400
    opened = (await cases_client.get(f"/v1/cases/{first['id']}/events")).json()[0]
    assert datetime.fromisoformat(opened["after"]["resolve_by"]) == received + timedelta(days=14)
    assert datetime.fromisoformat(second["sla"]["resolve_by"]) == received + timedelta(days=3)


def test_a_clock_paused_over_a_dst_weekend_resumes_with_the_business_time_it_had_left():
    """Office hours 09-17 in Bucharest; clocks go forward on Sunday 2026-03-29 at 03:00."""
    from datetime import time
    from zoneinfo import ZoneInfo

    from case_service.sla.model import BusinessCalendar, ClockName, WorkingInterval, start_clocks

    local = ZoneInfo("Europe/Bucharest")
    office = BusinessCalendar(
        name="bucharest-office",
        time_zone="Europe/Bucharest",
        hours={
            day: (WorkingInterval(time(9), time(17)),)
            for day in ("mon", "tue", "wed", "thu", "fri")
        },
    )
    received = datetime(2026, 3, 27, 16, 0, tzinfo=local)  # Friday, one business hour left
    (resolve,) = start_clocks(
        received_at=received,
        targets={ClockName.RESOLVE: timedelta(hours=8)},
        calendar=office,
        warning_share=0.8,
        statutory_cap=None,
    )
    # 1 h on Friday, 7 h on Monday: due Monday 16:00 local (after the DST change).
    assert resolve.due_at == datetime(2026, 3, 30, 16, 0, tzinfo=local)

    paused = resolve.pause(datetime(2026, 3, 27, 16, 30, tzinfo=local))  # 7.5 h left
    resumed_at = datetime(2026, 3, 30, 9, 0, tzinfo=local)  # Monday opening, now EEST (+03)
    resumed = paused.resume(resumed_at, office)
    assert resumed.due_at == datetime(2026, 3, 30, 16, 30, tzinfo=local)
    # The pause lasted Fri 16:30 EET → Mon 09:00 EEST: 63.5 real hours (one lost to DST).
    assert resumed.paused_total == timedelta(hours=63, minutes=30)
    view = resumed.view(datetime(2026, 3, 30, 12, 0, tzinfo=local), office)
    assert view["elapsed_seconds"] == int(timedelta(hours=3, minutes=30).total_seconds())
    assert view["remaining_seconds"] == int(timedelta(hours=4, minutes=30).total_seconds())
    assert view["paused_seconds"] == int(timedelta(hours=63, minutes=30).total_seconds())
