"""Notification outcomes a batch at a time, in batches that mix topics: a batch of
complaints, customer messages and ``notification.sent`` / ``failed`` events has the effect of
applying its events one by one (the consumer's per-record fallback), each aggregate's events
in their order; an outcome sees a case opened earlier in its batch, one of an unknown case is
dropped, and a poison outcome falls back to one record at a time without losing the others."""

from __future__ import annotations

import types
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from case_service import consumers, tables
from case_service.cases import model
from redress_shared.clock import FixedClock
from redress_shared.events import (
    COMPLAINT_MESSAGE_RECEIVED,
    COMPLAINT_RECEIVED,
    NOTIFICATION_FAILED,
    NOTIFICATION_SENT,
    NOTIFICATIONS_TOPIC,
    ComplaintMessageReceivedV1,
    ComplaintReceivedV1,
    CustomerContact,
    EventEnvelope,
    NotificationOutcomeV1,
    dead_letter_topic,
    new_event,
)
from redress_testing import eventually, produce, recorded_topic
from sqlalchemy import select


def _complaint(customer_key: str, received_at: datetime) -> EventEnvelope:
    payload = ComplaintReceivedV1(
        complaint_id=uuid.uuid4(),
        reference=f"RDR-2026-{uuid.uuid4().int % 10**6:06d}",
        received_at=received_at,
        channel="email",
        customer=CustomerContact(customer_key=customer_key, email="ana@example.com"),
        subject="Broken charger",
        body="It stopped working.",
    )
    return new_event(
        source="/test",
        type=COMPLAINT_RECEIVED,
        key=customer_key,
        payload=payload,
        time=received_at,
    )


def _message(complaint: EventEnvelope, body: str) -> EventEnvelope:
    received_at = complaint.time + timedelta(minutes=1)
    payload = ComplaintMessageReceivedV1(
        complaint_id=complaint.data["complaint_id"],
        reference=complaint.data["reference"],
        message_id=uuid.uuid4(),
        received_at=received_at,
        channel="email",
        channel_message_id=f"<{uuid.uuid4()}@example.com>",
        customer=CustomerContact(customer_key=complaint.key, email="ana@example.com"),
        subject=f"Re: [{complaint.data['reference']}]",
        body=body,
        matched_by="reference",
    )
    return new_event(
        source="/test",
        type=COMPLAINT_MESSAGE_RECEIVED,
        key=complaint.key,
        payload=payload,
        time=received_at,
    )


def _outcome(case_id: uuid.UUID, status: str, at: datetime, template: str) -> EventEnvelope:
    payload = NotificationOutcomeV1(
        notification_id=uuid.uuid4(),
        case_id=case_id,
        trigger_event_id=uuid.uuid4(),
        template=template,
        channel="email",
        status=status,
        attempts=1 if status == "sent" else 5,
        occurred_at=at,
        error=None if status == "sent" else "mailbox full",
    )
    return new_event(
        source="/test",
        type=NOTIFICATION_SENT if status == "sent" else NOTIFICATION_FAILED,
        key=str(case_id),
        payload=payload,
        time=at,
    )


@pytest.fixture
def case_ids(monkeypatch) -> Iterator[list[uuid.UUID]]:
    """Case ids the next openings take, in order (so a test can address, in the same batch,
    a case not opened yet); once used up, random ones as usual."""
    planned: list[uuid.UUID] = []
    fake = types.SimpleNamespace(**vars(uuid))
    fake.uuid4 = lambda: planned.pop(0) if planned else uuid.uuid4()
    monkeypatch.setattr(model, "uuid", fake)
    yield planned


def _story(received_at: datetime, case_id: uuid.UUID) -> list[EventEnvelope]:
    """Two customers' complaints, a message and outcomes of the first one's case (opened in
    this very batch, as ``case_id``) interleaved with them, and an outcome of a case nobody
    knows."""
    first = _complaint(f"mixed-{uuid.uuid4()}", received_at)
    second = _complaint(f"mixed-{uuid.uuid4()}", received_at)
    later = received_at + timedelta(minutes=2)
    return [
        first,
        _outcome(case_id, "sent", later, "acknowledgement"),
        _message(first, "Serial CH20-7781."),
        second,
        _outcome(uuid.uuid4(), "sent", later, "acknowledgement"),
        _outcome(case_id, "failed", later + timedelta(seconds=1), "response"),
        _message(first, "Any news?"),
    ]


async def _history(session_factory, complaint: EventEnvelope) -> list[tuple]:
    cases, history = tables.cases, tables.case_history
    async with session_factory() as session:
        rows = await session.execute(
            select(history.c.action, history.c.actor, history.c.after, history.c.at)
            .join(cases, cases.c.id == history.c.case_id)
            .where(cases.c.complaint_id == uuid.UUID(complaint.data["complaint_id"]))
            .order_by(history.c.id)
        )
        entries = []
        for action, actor, after, at in rows:
            after = dict(after or {})
            for varying in ("message_id", "notification_id", "channel_message_id"):
                after.pop(varying, None)
            if action == "opened":
                at = None  # the clock's now, the same in both runs
            entries.append((action, actor, tuple(sorted(after.items(), key=str)), at))
        return entries


async def _history_count(session_factory, event_id: uuid.UUID) -> int:
    history = tables.case_history
    async with session_factory() as session:
        return len(
            (await session.execute(select(history).where(history.c.event_id == event_id))).all()
        )


async def test_a_mixed_batch_has_the_effect_of_one_event_at_a_time(cases_client, case_ids):
    session_factory = cases_client.app.state.runtime.session_factory
    received_at = datetime.now(UTC).replace(microsecond=0)
    clock = FixedClock(received_at + timedelta(minutes=5))
    apply = consumers.batch_handler(clock)

    together_id, single_id = uuid.uuid4(), uuid.uuid4()
    together = _story(received_at, together_id)
    case_ids.append(together_id)
    async with session_factory() as session, session.begin():
        await apply(session, together)

    one_by_one = _story(received_at, single_id)
    case_ids.append(single_id)
    for event in one_by_one:  # the consumer's per-record fallback
        async with session_factory() as session, session.begin():
            await apply(session, [event])

    batched = await _history(session_factory, together[0])
    single = await _history(session_factory, one_by_one[0])
    # The outcome after the complaint saw the case opened earlier in the batch.
    assert [action for action, *_ in single] == [
        "opened",
        "notification_sent",
        "customer_message_received",
        "notification_failed",
        "customer_message_received",
    ]
    # Each source's entries in their order; between the notification topic and the
    # complaints topic no order is defined, so a batch may interleave them differently.
    for actor in ("system", "notification-service", "customer"):
        assert [e for e in batched if e[1] == actor] == [e for e in single if e[1] == actor]
    assert sorted(batched, key=str) == sorted(single, key=str)
    # The outcome of a case nobody knows was dropped; the second complaint has its case.
    assert await _history_count(session_factory, together[4].id) == 0
    assert [action for action, *_ in await _history(session_factory, together[3])] == ["opened"]


async def test_a_poison_outcome_falls_back_to_one_record_at_a_time(cases_client, open_case, infra):
    """One case's outcomes (one key, so one partition and, usually, one fetched batch) with
    a poison among them and a repeat: the batch fails, the records are applied one by one,
    the poison is dead-lettered, and every good outcome is noted exactly once, in order."""
    case = await open_case()
    case_id = uuid.UUID(case["id"])
    at = datetime.now(UTC)
    sent = _outcome(case_id, "sent", at, "acknowledgement")
    failed = _outcome(case_id, "failed", at + timedelta(seconds=1), "response")
    poison = EventEnvelope(
        source="/test",
        type=NOTIFICATION_SENT,
        key=str(case_id),
        time=at,
        data={"case_id": "not-a-uuid"},
    )
    async with recorded_topic(
        infra.kafka_bootstrap_servers, dead_letter_topic(NOTIFICATIONS_TOPIC)
    ) as dead:
        await produce(
            infra.kafka_bootstrap_servers, NOTIFICATIONS_TOPIC, sent, poison, sent, failed
        )

        async def dead_lettered():
            return [event for event in dead if event.id == poison.id]

        await eventually(dead_lettered)

    async def noted():
        history = (await cases_client.get(f"/v1/cases/{case_id}/events")).json()
        entries = [e for e in history if e["actor"] == "notification-service"]
        # The last record of the partition: once it is noted, every earlier one was applied.
        return entries if any(e["action"] == "notification_failed" for e in entries) else None

    entries = await eventually(noted)
    assert [(e["action"], e["after"]["template"]) for e in entries] == [
        ("notification_sent", "acknowledgement"),
        ("notification_failed", "response"),
    ]
