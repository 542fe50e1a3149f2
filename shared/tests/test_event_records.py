"""Kafka records: the relay encodes and the consumer decodes the records we write on short
paths past the CloudEvents binding; they must give what the binding gives, and refuse what
the binding refuses."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest
from redress_shared import records
from redress_shared.events import (
    ComplaintReceivedV1,
    CustomerContact,
    EventEnvelope,
    MalformedEvent,
    new_event,
)
from redress_shared.records import decode_record, from_kafka_record, to_kafka_record


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
