"""Opening cases a batch at a time: a fetched batch of complaints opens its cases with
set-based statements, and the effect is the same as opening them one by one (the consumer's
per-record fallback): one case per complaint, the same cases, history, events and profile."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from case_service import consumers, tables
from redress_shared.clock import FixedClock
from redress_shared.events import (
    CASE_OPENED,
    COMPLAINT_RECEIVED,
    COMPLAINTS_TOPIC,
    ComplaintReceivedV1,
    CustomerContact,
    EventEnvelope,
    dead_letter_topic,
    new_event,
)
from redress_testing import eventually, produce, recorded_topic
from sqlalchemy import func, select, text


def _complaint(customer: CustomerContact, received_at: datetime, **fields) -> EventEnvelope:
    payload = ComplaintReceivedV1(
        complaint_id=uuid.uuid4(),
        reference=f"RDR-2026-{uuid.uuid4().int % 10**6:06d}",
        received_at=received_at,
        channel="email",
        customer=customer,
        subject="Broken charger",
        body="It stopped working.",
        **fields,
    )
    return new_event(
        source="/test",
        type=COMPLAINT_RECEIVED,
        key=customer.customer_key,
        payload=payload,
        time=received_at,
    )


def _redelivered(event: EventEnvelope) -> EventEnvelope:
    """The same complaint under a new event id (a replayed topic): no second case."""
    return event.model_copy(update={"id": uuid.uuid4()})


def _poison(customer_key: str) -> EventEnvelope:
    """A ``complaint.received`` whose data is not a complaint: fails every time."""
    return EventEnvelope(
        source="/test",
        type=COMPLAINT_RECEIVED,
        key=customer_key,
        time=datetime.now(UTC),
        data={"complaint_id": "not-a-uuid"},
    )


def _story(customer_key: str, received_at: datetime) -> list[EventEnvelope]:
    """One customer's complaints whose contact points change as they come, with a repeat."""
    first = _complaint(
        CustomerContact(customer_key=customer_key, email="ana@example.com", language="ro"),
        received_at,
        category="product_defect",
    )
    second = _complaint(
        CustomerContact(customer_key=customer_key, phone="+40721000000", email="ana@work.example"),
        received_at + timedelta(minutes=1),
        category="outage",
    )
    third = _complaint(
        CustomerContact(customer_key=customer_key, language="en", preferred_channel="sms"),
        received_at + timedelta(minutes=2),
        category="billing_error",
    )
    return [first, second, _redelivered(first), third, _redelivered(second)]


async def _outcome(session_factory, events: list[EventEnvelope]) -> dict:
    """What the complaints left behind, without ids: per complaint in order, its case, its
    history and its ``case.opened`` event; and the customer's profile."""
    cases, history, outbox = tables.cases, tables.case_history, tables.platform.outbox
    complaint_ids = list(dict.fromkeys(uuid.UUID(e.data["complaint_id"]) for e in events))
    shown = []
    async with session_factory() as session:
        for complaint_id in complaint_ids:
            rows = (
                await session.execute(select(cases).where(cases.c.complaint_id == complaint_id))
            ).all()
            assert len(rows) == 1, f"{len(rows)} cases for one complaint"
            case = rows[0]._asdict()
            case_id = case.pop("id")
            entries = [
                (row.action, row.actor, row.before, row.after)
                for row in await session.execute(
                    select(history).where(history.c.case_id == case_id).order_by(history.c.id)
                )
            ]
            opened = [
                row.event
                for row in await session.execute(
                    select(outbox).where(outbox.c.message_key == str(case_id))
                )
            ]
            assert [event["type"] for event in opened] == [CASE_OPENED]
            data = {k: v for k, v in opened[0]["data"].items() if k not in {"case_id"}}
            for key in ("complaint_id", "reference", "customer_key"):
                case.pop(key)
                data.pop(key, None)
            data["customer"].pop("customer_key")
            shown.append((case, entries, data))
        customer = (
            (
                await session.execute(
                    select(tables.customers).where(
                        tables.customers.c.customer_key
                        == events[0].data["customer"]["customer_key"]
                    )
                )
            )
            .one()
            ._asdict()
        )
    customer.pop("customer_key")
    return {"cases": shown, "customer": customer}


async def test_a_batch_opens_the_same_cases_as_one_event_at_a_time(cases_client):
    session_factory = cases_client.app.state.runtime.session_factory
    received_at = datetime.now(UTC).replace(microsecond=0)
    clock = FixedClock(received_at + timedelta(minutes=5))
    apply = consumers.batch_handler(clock)

    together = _story(f"batch-{uuid.uuid4()}", received_at)
    async with session_factory() as session, session.begin():
        await apply(session, together)

    one_by_one = _story(f"single-{uuid.uuid4()}", received_at)
    for event in one_by_one:  # the consumer's per-record fallback
        async with session_factory() as session, session.begin():
            await apply(session, [event])

    batched, single = (
        await _outcome(session_factory, together),
        await _outcome(session_factory, one_by_one),
    )
    assert batched == single
    assert len(batched["cases"]) == 3
    assert batched["customer"]["complaint_count"] == 3
    # Each case.opened speaks of the profile as it stood right after its own complaint.
    contacts = [data["customer"] for _case, _history, data in batched["cases"]]
    assert [(c["email"], c["phone"], c["language"]) for c in contacts] == [
        ("ana@example.com", None, "ro"),
        ("ana@work.example", "+40721000000", "ro"),
        ("ana@work.example", "+40721000000", "en"),
    ]
    assert [case["priority"] for case, _history, _data in batched["cases"]] == [
        "normal",
        "urgent",
        "high",
    ]


async def test_a_repeated_complaint_and_a_poison_event_in_one_batch_over_the_broker(
    cases_client, infra
):
    """Same key, so one partition and (usually) one fetched batch: the poison fails the
    batch, the consumer falls back to one record at a time, the poison is dead-lettered and
    every complaint still has exactly one case."""
    key = f"poison-{uuid.uuid4()}"
    first, second, repeat, third, _ = _story(key, datetime.now(UTC))
    poison = _poison(key)
    async with recorded_topic(
        infra.kafka_bootstrap_servers, dead_letter_topic(COMPLAINTS_TOPIC)
    ) as dead:
        await produce(
            infra.kafka_bootstrap_servers, COMPLAINTS_TOPIC, first, second, repeat, poison, third
        )

        async def dead_lettered():
            return [event for event in dead if event.id == poison.id]

        await eventually(dead_lettered)

    runtime = cases_client.app.state.runtime
    cases = tables.cases

    async def opened():
        async with runtime.session_factory() as session:
            counts = dict(
                (
                    await session.execute(
                        select(cases.c.complaint_id, func.count())
                        .where(cases.c.customer_key == key)
                        .group_by(cases.c.complaint_id)
                    )
                ).all()
            )
        return counts if len(counts) == 3 else None

    counts = await eventually(opened)
    assert counts == {uuid.UUID(e.data["complaint_id"]): 1 for e in (first, second, third)}
    async with runtime.session_factory() as session:
        profile = (
            await session.execute(
                select(tables.customers).where(tables.customers.c.customer_key == key)
            )
        ).one()
    assert profile.complaint_count == 3


async def test_the_kept_settings_follow_an_edit_by_hand_at_the_next_batch(cases_client):
    """The batch handler keeps the SLA policies and routing rules between batches: an edit
    of them, even in plain SQL by an operator, is seen by the very next batch."""
    session_factory = cases_client.app.state.runtime.session_factory
    received_at = datetime.now(UTC).replace(microsecond=0)
    apply = consumers.batch_handler(FixedClock(received_at + timedelta(minutes=5)))
    category, team = f"kept-{uuid.uuid4().hex[:8]}", f"team-{uuid.uuid4().hex[:8]}"
    cases, clocks = tables.cases, tables.case_clocks

    async def open_one() -> tuple:
        customer = CustomerContact(customer_key=f"kept-{uuid.uuid4()}")
        event = _complaint(customer, received_at, category=category)
        async with session_factory() as session, session.begin():
            await apply(session, [event])
        async with session_factory() as session:
            return (
                await session.execute(
                    select(cases.c.team, cases.c.sla_policy, clocks.c.target)
                    .join(clocks, clocks.c.case_id == cases.c.id)
                    .where(
                        cases.c.complaint_id == uuid.UUID(event.data["complaint_id"]),
                        clocks.c.clock == "acknowledge",
                    )
                )
            ).one()

    async def run_sql(*statements: str, **values: object) -> None:
        async with session_factory() as session, session.begin():
            for statement in statements:
                await session.execute(text(statement), values)

    before = await open_one()  # the settings are read, then kept
    assert before.team == "general"
    await run_sql(
        "INSERT INTO cases.teams (name, lead) VALUES (:team, 'lead')",
        "INSERT INTO cases.routing_rules (position, team, category) VALUES (900, :team, :category)",
        "UPDATE cases.sla_policies SET acknowledge_within = acknowledge_within + interval '1 h'"
        " WHERE name = :policy",
        team=team,
        category=category,
        policy=before.sla_policy,
    )
    try:
        after = await open_one()
    finally:
        await run_sql(
            "DELETE FROM cases.routing_rules WHERE position = 900",
            "UPDATE cases.sla_policies SET acknowledge_within = acknowledge_within - interval '1 h'"
            " WHERE name = :policy",
            policy=before.sla_policy,
        )
    assert after.team == team
    assert after.target == before.target + timedelta(hours=1)
    assert (await open_one()).team == "general"  # and the rule's removal, too


async def test_an_edit_of_a_calendar_moves_the_settings_version(cases_client):
    session_factory = cases_client.app.state.runtime.session_factory
    version = select(tables.opening_settings_version.c.version)
    async with session_factory() as session, session.begin():
        first = await session.scalar(version)
        await session.execute(
            tables.calendars.update()
            .where(tables.calendars.c.name == "24x7")
            .values(time_zone=tables.calendars.c.time_zone)
        )
        assert await session.scalar(version) == first + 1


async def test_a_batch_with_a_complaint_already_opened_opens_only_the_others(cases_client):
    """The customer upsert is guarded by the check that no complaint of the batch has its
    case: when one has (a replayed topic), nothing is counted twice and the others open."""
    session_factory = cases_client.app.state.runtime.session_factory
    received_at = datetime.now(UTC).replace(microsecond=0)
    apply = consumers.batch_handler(FixedClock(received_at + timedelta(minutes=5)))

    first, second, _, third, _ = _story(f"replayed-{uuid.uuid4()}", received_at)
    async with session_factory() as session, session.begin():
        await apply(session, [first])
    async with session_factory() as session, session.begin():
        await apply(session, [_redelivered(first), second, third])

    together = _story(f"together-{uuid.uuid4()}", received_at)
    async with session_factory() as session, session.begin():
        await apply(session, together)

    replayed = await _outcome(session_factory, [first, second, third])
    assert replayed == await _outcome(session_factory, together)
    assert replayed["customer"]["complaint_count"] == 3
