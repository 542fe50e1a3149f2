"""Kafka records: the relay encodes and the consumer decodes the records we write on short
paths past the CloudEvents binding; they must give what the binding gives, and refuse what
the binding refuses."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest
from redress_shared import records
from redress_shared.clock import SystemClock
from redress_shared.db import PlatformTables, create_session_factory
from redress_shared.events import (
    ComplaintReceivedV1,
    CustomerContact,
    EventEnvelope,
    MalformedEvent,
    new_event,
)
from redress_shared.outbox import OutboxRelay, add_many_to_outbox
from redress_shared.records import decode_record, from_kafka_record, to_kafka_record
from sqlalchemy import MetaData, Text, cast, literal_column, select, text
from sqlalchemy.ext.asyncio import create_async_engine


def our_record(**event_fields) -> tuple[bytes, bytes, list[tuple[str, bytes]]]:
    payload = ComplaintReceivedV1(
        complaint_id=uuid.uuid4(),
        reference="RDR-2026-000001",
        received_at=datetime(2026, 3, 2, 9, 30, 15, 123456, tzinfo=UTC),
        channel="api",
        customer=CustomerContact(customer_key="customer-1", phone="+40721000000"),
        body="Încărcătorul s-a oprit.",
    )
    fields = {"source": "/test", "type": "redress.complaint.received.v1", "key": "customer-1"}
    fields.update(event_fields)
    event = new_event(payload=payload, time=datetime(2026, 3, 2, 9, 31, tzinfo=UTC), **fields)
    return to_kafka_record(event)


@pytest.mark.parametrize(
    "fields",
    [{}, {"subject": "case-7", "correlation_id": "req-123"}],
    ids=["plain", "with subject and correlation id"],
)
def test_our_records_decode_as_the_cloudevents_binding_decodes_them(fields) -> None:
    key, value, headers = our_record(**fields)
    assert records._usual_record(key, value, headers) is not None  # the short path takes it
    short = decode_record(key, value, headers)
    bound = from_kafka_record(key, value, headers)
    assert short == bound
    assert short.time == datetime(2026, 3, 2, 9, 31, tzinfo=UTC)
    assert short.payload() == bound.payload()


@pytest.mark.parametrize(
    "change",
    [
        lambda h: {**h, "ce_id": b"not-a-uuid"},
        lambda h: {**h, "ce_time": b"yesterday"},
        lambda h: {**h, "ce_source": b""},
        lambda h: {**h, "ce_id": b"\xff\xfe"},
    ],
    ids=["id", "time", "empty source", "not utf-8"],
)
def test_a_broken_attribute_is_malformed_on_either_path(change) -> None:
    key, value, headers = our_record()
    broken = list(change(dict(headers)).items())
    for decode in (decode_record, from_kafka_record):
        with pytest.raises(MalformedEvent):
            decode(key, value, broken)


@pytest.mark.parametrize("value", [b"[1, 2]", b"{not json", b'"text"'])
def test_data_that_is_not_a_json_object_is_malformed_on_either_path(value: bytes) -> None:
    key, _, headers = our_record()
    for decode in (decode_record, from_kafka_record):
        with pytest.raises(MalformedEvent):
            decode(key, value, headers)


def test_another_shape_goes_through_the_binding() -> None:
    key, value, headers = our_record()
    other = [
        *headers,
        ("ce_traceparent", b"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"),
    ]
    assert records._usual_record(key, value, other) is None
    assert decode_record(key, value, other) == from_kafka_record(key, value, headers)


@pytest.mark.parametrize(
    "event",
    [
        EventEnvelope(
            source="/intake",
            type="redress.complaint.received.v1",
            time=datetime(2026, 3, 2, 9, 31, 0, 120000, tzinfo=UTC),
            key="customer-1",
            data={"body": 'Încărcătorul "CH-20"\u2028 s-a oprit 🔌', "n": [1, 2.5, None, True]},
        ),
        EventEnvelope(
            source="/cases",
            type="redress.case.opened.v1",
            subject="case-ü-7",
            correlation_id="req-123",
            time=datetime(2026, 3, 2, 11, 31, tzinfo=timezone(timedelta(hours=2))),
            key="",
            data={"nested": {"ключ": {"deep": []}}},
        ),
        # Data plain JSON cannot encode (a datetime): through the binding, as before.
        EventEnvelope(
            source="/analytics",
            type="redress.alert.raised.v1",
            time=datetime(2026, 3, 2, 9, 31, tzinfo=UTC),
            key="k",
            data={"at": datetime(2026, 3, 2, 9, 31, tzinfo=UTC)},
        ),
    ],
    ids=["utc, unicode data", "offset time, subject, correlation, empty key", "datetime data"],
)
def test_records_are_encoded_byte_for_byte_as_the_cloudevents_binding_encodes_them(
    event: EventEnvelope,
) -> None:
    assert to_kafka_record(event) == records._binding_record(event)
    key, value, headers = to_kafka_record(event)
    assert decode_record(key, value, headers) == from_kafka_record(key, value, headers)


# The relay reads an event as PostgreSQL stores it (JSONB: its own key order, spacing and
# number form) and publishes it without decoding its data (records.stored_kafka_record): what
# it sends must be what encoding the decoded event gives, and what the binding gives.
_OUTBOX_SCHEMA = "records_test"
_outbox_metadata = MetaData(schema=_OUTBOX_SCHEMA)
_outbox_tables = PlatformTables(_outbox_metadata)


class _Capture:
    """Takes the place of the producer: keeps each record the relay hands it (its encoding is
    under test here; the broker's side has its own tests)."""

    def __init__(self) -> None:
        self.records: list[tuple[bytes, bytes, list[tuple[str, bytes]]]] = []

    async def send(self, topic: str, *, value: bytes, key: bytes, headers: list) -> asyncio.Future:
        self.records.append((key, value, headers))
        done = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done


@pytest.fixture
async def outbox_db(infra):
    engine = create_async_engine(infra.database_url)
    async with engine.begin() as connection:
        await connection.execute(text(f"DROP SCHEMA IF EXISTS {_OUTBOX_SCHEMA} CASCADE"))
        await connection.execute(text(f"CREATE SCHEMA {_OUTBOX_SCHEMA}"))
        await connection.run_sync(_outbox_metadata.create_all)
    yield create_session_factory(engine)
    await engine.dispose()


def _envelope(data: dict, **fields) -> EventEnvelope:
    attributes = {
        "source": "/intake",
        "type": "redress.complaint.received.v1",
        "time": datetime(2026, 3, 2, 9, 31, 0, 120000, tzinfo=UTC),
        "key": "customer-1",
        "correlation_id": "req-123",
    }
    attributes.update(fields)
    return EventEnvelope(data=data, **attributes)


_STORED_EVENTS = {
    "a complaint, in Romanian": (
        _envelope(
            {
                "complaint_id": str(uuid.uuid4()),
                "received_at": "2026-03-02T09:30:15.123456Z",
                "body": "Încărcătorul nu mai funcționează după două zile.",
                "customer": {"customer_key": "c-1", "email": "ana1.b@x2.ro", "language": "ro"},
                "reputation_sensitive": False,
                "context": None,
                "count": 3,
                "members": [],
                "nested": {},
            }
        ),
        True,
    ),
    "escapes, scripts, DEL, astral characters": (
        _envelope(
            {
                "text": 'quote " back \\ slash / tab \t nl \n cr \r \b \f \x01 \x1f',
                "persian": "شکایت من",
                "emoji": "🔌 \u2028 \u00a0",
                "ключ": ["ü", "ş", 1, -2, 12345678901234567890, True, None],
            },
            subject="case-ü-7",
        ),
        True,
    ),
    "DEL": (_envelope({"text": "a \x7f b"}), False),
    "text that looks like numbers": (
        _envelope({"body": "version: 2.5, [1.5, 3e5]", "at": "09:31:00.120000Z"}),
        False,  # the short path cannot tell them from numbers: the long one, same bytes
    ),
    "numbers with fractions": (
        _envelope({"a": 2.5, "b": 1e-07, "c": 1e16, "d": 100.0, "e": [0.1, -0.0], "f": 1e300}),
        False,
    ),
    "offset time, no correlation, empty key": (
        _envelope(
            {"x": 1},
            time=datetime(2026, 3, 2, 11, 31, tzinfo=timezone(timedelta(hours=2))),
            correlation_id=None,
            key="",
        ),
        True,
    ),
    "utc time without microseconds, empty subject": (
        _envelope({"x": "y"}, time=datetime(2026, 3, 2, 9, 31, tzinfo=UTC), subject=""),
        True,
    ),
}


async def test_the_relay_publishes_stored_events_byte_for_byte_as_encoding_them_gives(
    outbox_db,
) -> None:
    events = [event for event, _ in _STORED_EVENTS.values()]
    async with outbox_db() as session, session.begin():
        await add_many_to_outbox(session, _outbox_tables, "records.test", events)
    outbox = _outbox_tables.outbox
    async with outbox_db() as session:
        stored = (await session.execute(select(outbox.c.event).order_by(outbox.c.id))).scalars()
        stored = list(stored)
        envelopes_and_data = (
            await session.execute(
                select(
                    outbox.c.event.op("-")(literal_column("'data'")),
                    cast(outbox.c.event.op("->")(literal_column("'data'")), Text),
                ).order_by(outbox.c.id)
            )
        ).all()
    relay = OutboxRelay(
        session_factory=outbox_db, tables=_outbox_tables, clock=SystemClock(), lock_name="records"
    )
    capture = _Capture()
    assert await relay.relay_once(capture) == len(events)

    for name, stored_event, (envelope, data), sent in zip(
        _STORED_EVENTS, stored, envelopes_and_data, capture.records, strict=True
    ):
        decoded = EventEnvelope.model_validate(stored_event)
        # What the relay sent is what encoding the decoded event gives, and the binding too.
        assert sent == to_kafka_record(decoded), name
        assert sent == records._binding_record(decoded), name
        short = _STORED_EVENTS[name][1]
        assert (records._stored_record(envelope, data) is not None) == short, name


@pytest.mark.parametrize(
    "envelope",
    [
        {"source": "", "time": "2026-03-02T09:31:00Z"},
        {"source": "/intake", "time": "2026-03-02T09:31:00"},
    ],
    ids=["empty source", "naive time"],
)
def test_a_stored_event_the_encoding_refuses_is_refused_on_the_relays_path(envelope) -> None:
    # An operator's row, say: refused as before (so the relay parks it).
    envelope = {"id": str(uuid.uuid4()), "type": "t", "key": "k", **envelope}
    event = EventEnvelope.model_validate({**envelope, "data": {"x": 1}})
    with pytest.raises(Exception) as encoding:
        to_kafka_record(event)
    with pytest.raises(type(encoding.value)):
        records.stored_kafka_record(envelope, '{"x": 1}')
