"""The batch path and the one-at-a-time fallback give the same figures and alerts.

The same stream goes through the service's consumer (handlers, batch handler, inbox) three
ways, each into a fresh copy of the analytics schema on the test PostgreSQL: as whole
partition batches; one record per batch; and as batches that each hold a poison record (a
decision naming no known case), so every batch transaction fails and the consumer falls back
to one record at a time. Redeliveries, decisions before their complaints, a revised and a late
decision, remedies, surveys and an incident burst are in it. Every table (facts, counters,
alerts, incident members) must end identical, every alert must be published as it ended, and
the incident's events must be the same (raised with the members it had when it rose). An
alert that rises and falls again inside one batch (a month's mean satisfaction moving with
each survey) is published once, as it stands after the batch.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from aiokafka.structs import ConsumerRecord
from analytics_service import consumers, tables
from redress_shared.clock import FixedClock
from redress_shared.db import create_session_factory
from redress_shared.events import (
    CASES_TOPIC,
    COMPLAINTS_TOPIC,
    CaseDecisionRecordedV1,
    EventEnvelope,
    new_event,
)
from redress_shared.kafka import EventConsumer
from redress_shared.records import to_kafka_record
from redress_testing.case_stories import CaseStory, complaint_received, redelivered
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

SUPPLIER = "Batchco"


def stream(base: datetime) -> tuple[list[EventEnvelope], list[EventEnvelope]]:
    """(complaint events, case events) in the order each topic would hold them."""
    complaints, cases = [], []
    for i in range(10):
        at = base + timedelta(days=i % 3, hours=i)
        complaint = complaint_received(
            at, category="product_defect", sku=f"B-{i % 2}", supplier=SUPPLIER
        )
        complaints.append(complaint)
        story = CaseStory(at + timedelta(minutes=5), complaint_id=complaint.payload().complaint_id)
        cases += [story.opened, story.act("acknowledge", "acknowledged", at + timedelta(hours=1))]
        cases.append(story.decide("justified", at + timedelta(days=1), "manufacturing"))
        if i % 3 == 0:  # revised, then a late, older one that must change nothing
            cases.append(story.decide("unjustified", at + timedelta(days=2)))
            cases.append(story.decide("justified", at + timedelta(hours=30), "manufacturing"))
        if i % 4 == 0:
            remedy = uuid.uuid4()
            cases.append(
                story.remedy(remedy, "refund", "proposed", at + timedelta(days=2), "10.00", "EUR")
            )
            cases.append(
                story.remedy(remedy, "refund", "completed", at + timedelta(days=3), "10.00", "EUR")
            )
        cases.append(story.satisfaction("6.50" if i % 2 else "9.00", at + timedelta(days=4)))
        cases.append(story.act("resolve", "resolved", at + timedelta(days=3)))
    # An outage: eight complaints of one product in forty minutes (an incident).
    burst_at = base + timedelta(days=5, hours=9)
    complaints += [
        complaint_received(burst_at + timedelta(minutes=5 * i), category="outage", sku="RT-9")
        for i in range(8)
    ]
    complaints.insert(3, redelivered(complaints[2]))
    complaints.append(complaints[-1])  # delivered twice
    cases.insert(5, cases[4])
    return complaints, cases


def poison(at: datetime) -> EventEnvelope:
    """A decision for a case nobody knows, naming no complaint: fails every time."""
    case_id = uuid.uuid4()
    return new_event(
        source="/test/case-service",
        type="redress.case.decision_recorded.v1",
        key=str(case_id),
        subject=str(case_id),
        time=at,
        payload=CaseDecisionRecordedV1(
            case_id=case_id,
            reference="RDR-POISON",
            complaint_id=None,
            validity="justified",
            decided_by="agent",
            occurred_at=at,
        ),
    )


def records(topic: str, events: list[EventEnvelope]) -> list[ConsumerRecord]:
    out = []
    for offset, event in enumerate(events):
        key, value, headers = to_kafka_record(event)
        out.append(
            ConsumerRecord(
                topic, 0, offset, 0, 0, key, value, None, len(key or b""), len(value), headers
            )
        )
    return out


async def apply(
    settings, schema: str, batches: list[list[ConsumerRecord]], now: datetime
) -> list[str]:
    """Create ``schema`` as a copy of the analytics tables, apply the batches through the
    service's consumer, and answer the records it could not apply."""
    engine = create_async_engine(settings.database_url)
    async with engine.begin() as connection:
        await connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        await connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        for table in tables.metadata.sorted_tables:
            await connection.execute(
                text(
                    f'CREATE TABLE "{schema}"."{table.name}" (LIKE analytics."{table.name}" INCLUDING ALL)'
                )
            )
    translated = engine.execution_options(schema_translate_map={tables.SCHEMA: schema})
    clock = FixedClock(now)
    consumer = EventConsumer(
        group_id=consumers.GROUP_ID,
        topics=consumers.TOPICS,
        handlers=consumers.handlers(settings, clock),
        batch_handler=consumers.batch_handler(settings, clock),
        session_factory=create_session_factory(translated),
        tables=tables.platform,
        settings=settings,
    )
    for batch in batches:
        await consumer._process_batch(batch)  # the consumer's own batch / fallback logic
    await engine.dispose()
    return consumer.replay_failures


async def differences(settings, left: str, right: str) -> dict[str, int]:
    """Rows of each table in one schema and not the other (both ways); outbox events compared
    by what they say (type, alert, count, members), not by their ids."""
    engine = create_async_engine(settings.database_url)
    found = {}
    async with engine.connect() as connection:
        for table in tables.metadata.sorted_tables:
            if table.name in ("inbox", "outbox", "api_keys"):
                continue
            columns = ", ".join(f'"{c.name}"' for c in table.columns)
            query = (
                f'SELECT count(*) FROM (SELECT {columns} FROM "{{a}}"."{table.name}" '
                f'EXCEPT ALL SELECT {columns} FROM "{{b}}"."{table.name}") d'
            )
            found[table.name] = await connection.scalar(text(query.format(a=left, b=right)))
            found[table.name] += await connection.scalar(text(query.format(a=right, b=left)))
        said = (
            "SELECT event->>'type', event->'data'->>'alert_id', event->'data'->>'kind', "
            "event->'data'->>'count', event->'data'->'members' FROM \"{s}\".outbox ORDER BY id"
        )
        last, incidents = {}, {}
        for schema in (left, right):
            rows = (await connection.execute(text(said.format(s=schema)))).all()
            # Each alert's state as last published; every incident event as it was.
            last[schema] = {alert_id: event_type for event_type, alert_id, *_ in rows}
            incidents[schema] = [row for row in rows if row[2] == "incident"]
        found["alerts as last published"] = int(last[left] != last[right])
        found["incident events"] = int(incidents[left] != incidents[right])
        found["facts"] = await connection.scalar(
            text(f'SELECT count(*) FROM "{left}".complaint_facts')
        )
    await engine.dispose()
    return found


async def test_batches_and_the_one_at_a_time_fallback_give_the_same_figures(analytics_settings):
    base = datetime(2996, 3, 2, 8, tzinfo=UTC)  # every run has schemas of its own
    now = base + timedelta(days=40)
    complaints, cases = stream(base)
    tag = uuid.uuid4().hex[:8]
    whole = [records(CASES_TOPIC, cases), records(COMPLAINTS_TOPIC, complaints)]
    single = [[r] for batch in whole for r in batch]
    # A live fetch spans the two topics: complaints and their cases' events in one batch, in
    # either order of the partitions.
    mixed = [whole[1] + whole[0]]
    mixed_other_way = [whole[0] + whole[1]]
    poisoned = [
        records(COMPLAINTS_TOPIC, [*complaints[:9], poison(base), *complaints[9:]]),
        records(CASES_TOPIC, [poison(base), *cases]),
    ]
    assert await apply(analytics_settings, f"batch_{tag}", whole, now) == []
    assert await apply(analytics_settings, f"single_{tag}", single, now) == []
    assert await apply(analytics_settings, f"mixed_{tag}", mixed, now) == []
    assert await apply(analytics_settings, f"mixedback_{tag}", mixed_other_way, now) == []
    failed = await apply(analytics_settings, f"fallback_{tag}", poisoned, now)
    assert len(failed) == 2 and all("names no known complaint" in f for f in failed)

    for other in (f"single_{tag}", f"fallback_{tag}", f"mixed_{tag}", f"mixedback_{tag}"):
        found = await differences(analytics_settings, f"batch_{tag}", other)
        assert found.pop("facts") == 18
        assert set(found.values()) == {0}, f"{other}: { {k: v for k, v in found.items() if v} }"

    engine = create_async_engine(analytics_settings.database_url)
    async with engine.connect() as connection:
        kinds = (
            await connection.execute(
                text(f'SELECT kind, count FROM "batch_{tag}".alerts ORDER BY kind')
            )
        ).all()
        for schema in ("batch", "single", "fallback", "mixed", "mixedback"):
            await connection.execute(text(f'DROP SCHEMA "{schema}_{tag}" CASCADE'))
        await connection.commit()
    await engine.dispose()
    # Ten upheld manufacturing complaints of one supplier in a month (more than 4) but the
    # four revised to unjustified (a late, older decision changes nothing); the outage burst.
    assert ("supplier_defects", 6) in kinds and ("incident", 8) in kinds, kinds


async def test_a_complaint_whose_case_opens_in_the_same_batch_is_written_once(analytics_settings):
    """The usual live batch holds a complaint and its case's opening: the complaint's fact row
    is inserted with the case's priority and tier, not inserted and then updated."""
    at = datetime(2996, 5, 4, 8, tzinfo=UTC)
    schema = f"once_{uuid.uuid4().hex[:8]}"
    assert await apply(analytics_settings, schema, [], at) == []  # the empty tables
    complaint = complaint_received(at, category="delivery", sku="W-1", supplier=SUPPLIER)
    story = CaseStory(at, complaint_id=complaint.payload().complaint_id, priority="high")
    engine = create_async_engine(analytics_settings.database_url)
    translated = engine.execution_options(schema_translate_map={tables.SCHEMA: schema})
    handler = consumers.batch_handler(analytics_settings, FixedClock(at))
    async with create_session_factory(translated)() as session, session.begin():
        await handler(session, [complaint, story.opened])
        written = (
            await session.execute(
                text(
                    "SELECT n_tup_ins, n_tup_upd FROM pg_stat_xact_user_tables "
                    "WHERE schemaname = :schema AND relname = 'complaint_facts'"
                ),
                {"schema": schema},
            )
        ).one()
        priority = await session.scalar(text(f'SELECT priority FROM "{schema}".complaint_facts'))
    async with engine.begin() as connection:
        await connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    await engine.dispose()
    assert tuple(written) == (1, 0) and priority == "high"
