"""Events as Kafka records: the CloudEvents Kafka binding in binary mode (attributes in
``ce_*`` headers, the data as the value, the partition key as the record key)."""

from __future__ import annotations

import codecs
import json
import re
import uuid
from collections.abc import Sequence
from datetime import datetime
from json.encoder import encode_basestring_ascii
from typing import Any

from cloudevents.core.bindings import kafka as ce_kafka
from cloudevents.core.v1.event import CloudEvent
from pydantic_core import from_json

from redress_shared.events import CORRELATION_EXTENSION, EventEnvelope, MalformedEvent


def to_kafka_record(event: EventEnvelope) -> tuple[bytes, bytes, list[tuple[str, bytes]]]:
    """Encode an envelope as (key, value, headers) in CloudEvents Kafka binary mode.

    Byte for byte what the CloudEvents binding writes (a test compares the two), without
    its generic attribute handling, which cost ~150 µs per event in every relay; an event
    this shortcut does not cover (a naive time, data that plain JSON cannot encode, an
    empty attribute) goes through the binding, which also decides what is refused."""
    moment = event.time
    if moment.tzinfo is None or not event.source or not event.type:
        return _binding_record(event)
    try:
        value = json.dumps(event.data).encode()
    except (TypeError, ValueError):
        return _binding_record(event)
    stamp = moment.isoformat()
    if stamp.endswith("+00:00"):
        stamp = stamp[:-6] + "Z"
    headers = [
        ("ce_id", str(event.id).encode()),
        ("ce_source", event.source.encode()),
        ("ce_type", event.type.encode()),
        ("ce_time", stamp.encode()),
        ("content-type", b"application/json"),
    ]
    if event.subject:
        headers.append(("ce_subject", event.subject.encode()))
    if event.correlation_id:
        headers.append((f"ce_{CORRELATION_EXTENSION}", event.correlation_id.encode()))
    headers.append(("ce_specversion", b"1.0"))
    return event.key.encode(), value, headers


def _binding_record(event: EventEnvelope) -> tuple[bytes, bytes, list[tuple[str, bytes]]]:
    """``to_kafka_record`` through the CloudEvents binding itself."""
    attributes: dict[str, Any] = {
        "id": str(event.id),
        "source": event.source,
        "type": event.type,
        "time": event.time,
        "datacontenttype": "application/json",
    }
    if event.subject:
        attributes["subject"] = event.subject
    if event.correlation_id:
        attributes[CORRELATION_EXTENSION] = event.correlation_id
    message = ce_kafka.to_binary_event(
        CloudEvent(attributes=attributes, data=event.data), key_mapper=lambda _e: event.key
    )
    key = message.key.encode() if isinstance(message.key, str) else message.key or b""
    return key, message.value, list(message.headers.items())


# How our outbox stores an envelope's id and time (see ``stored_kafka_record``).
_CANONICAL_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_STORED_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{6})?(?:Z|[+-]\d\d:\d\d)")


def _json_escaped(error: UnicodeEncodeError) -> tuple[str, int]:
    """Encoding error handler: a run of characters beyond ASCII as ``json.dumps`` writes it
    (``\\u00e9``, surrogate pairs beyond the BMP)."""
    run = error.object[error.start : error.end]
    return encode_basestring_ascii(run)[1:-1], error.end


_JSON_ASCII = "redress.json_ascii"
codecs.register_error(_JSON_ASCII, _json_escaped)


def _may_hold_a_fraction(data: str) -> bool:
    """Whether JSON text as PostgreSQL writes it may hold a number with a fraction: a '.' after
    digits that follow ' ' (after '": ' or ', '), '[' or '-'. PostgreSQL writes no exponents.
    A time's "09:31:00.12" or an address's "a1.example" is no such number; a text like
    "costs 2.50" is taken for one, which only costs the long path."""
    dot = data.find(".")
    while dot != -1:
        start = dot - 1
        while start >= 0 and data[start].isdigit():
            start -= 1
        if start < dot - 1 and start >= 0 and data[start] in " [-":
            return True
        dot = data.find(".", dot + 1)
    return False


def stored_kafka_record(
    envelope: dict[str, Any], data: str | None
) -> tuple[bytes, bytes, list[tuple[str, bytes]]]:
    """``to_kafka_record`` of an event as the outbox stores it (JSONB), read as its envelope
    without the data (a dict) and the data as PostgreSQL's text of it: byte for byte what
    ``to_kafka_record(EventEnvelope.model_validate(event))`` gives, without decoding the
    data, validating the envelope and encoding the data again (a complaint's event: 17 µs
    of CPU before, 9 µs now).

    PostgreSQL writes JSONB as text the way :func:`json.dumps` does (``", "`` and ``": "``,
    the same escapes, the key order the decoded object has) but for two things: characters
    beyond ASCII are written as they are (escaped here as ``json.dumps`` escapes them), and a
    number with a fraction as its decimal digits (where Python writes the float's shortest
    repr). Data that may hold such a number, and an envelope not as
    :func:`redress_shared.outbox.add_to_outbox` writes it, take the long path, which also
    decides what is refused (a test compares both paths on PostgreSQL)."""
    record = _stored_record(envelope, data)
    if record is not None:
        return record
    event = dict(envelope)
    if data is not None:
        event["data"] = json.loads(data)
    return to_kafka_record(EventEnvelope.model_validate(event))


def _stored_record(
    envelope: dict[str, Any], data: str | None
) -> tuple[bytes, bytes, list[tuple[str, bytes]]] | None:
    """:func:`stored_kafka_record` for an event as our outbox writes it, or None."""
    event_id, source, event_type = envelope.get("id"), envelope.get("source"), envelope.get("type")
    stamp, key = envelope.get("time"), envelope.get("key")
    subject, correlation = envelope.get("subject"), envelope.get("correlation_id")
    if (
        data is None
        or not data.startswith("{")
        or "\x7f" in data  # DEL: json.dumps escapes it, PostgreSQL does not (rare)
        or _may_hold_a_fraction(data)
        or not (isinstance(event_id, str) and _CANONICAL_ID.fullmatch(event_id))
        or not (isinstance(source, str) and source)
        or not (isinstance(event_type, str) and event_type)
        or not (isinstance(stamp, str) and _STORED_TIME.fullmatch(stamp))
        or not isinstance(key, str)
        or not (subject is None or isinstance(subject, str))
        or not (correlation is None or isinstance(correlation, str))
    ):
        return None
    value = data.encode("ascii", _JSON_ASCII)
    moment = datetime.fromisoformat(stamp).isoformat()
    if moment.endswith("+00:00"):
        moment = moment[:-6] + "Z"
    headers = [
        ("ce_id", event_id.encode()),
        ("ce_source", source.encode()),
        ("ce_type", event_type.encode()),
        ("ce_time", moment.encode()),
        ("content-type", b"application/json"),
    ]
    if subject:
        headers.append(("ce_subject", subject.encode()))
    if correlation:
        headers.append((f"ce_{CORRELATION_EXTENSION}", correlation.encode()))
    headers.append(("ce_specversion", b"1.0"))
    return key.encode(), value, headers


def from_kafka_record(
    key: bytes | None, value: bytes | None, headers: list[tuple[str, bytes]] | tuple
) -> EventEnvelope:
    """Decode a binary-mode CloudEvents Kafka record; raise MalformedEvent if it is not one."""
    try:
        message = ce_kafka.KafkaMessage(
            headers={name: raw for name, raw in headers}, key=key, value=value or b""
        )
        event = ce_kafka.from_binary_event(message)
        data = event.get_data()
        if not isinstance(data, dict):
            raise MalformedEvent("event data is not a JSON object")
        return EventEnvelope(
            id=uuid.UUID(event.get_id()),
            source=event.get_source(),
            type=event.get_type(),
            subject=event.get_subject(),
            time=event.get_time(),
            key=(key or b"").decode(),
            correlation_id=event.get_extension(CORRELATION_EXTENSION),
            data=data,
        )
    except MalformedEvent:
        raise
    except Exception as exc:  # the binding raises many types; all mean "not our event"
        raise MalformedEvent(f"{type(exc).__name__}: {exc}") from exc


__all__ = ["from_kafka_record", "stored_kafka_record", "to_kafka_record"]


# The headers ``to_kafka_record`` writes. A record with exactly these (and the optional ones)
# is decoded here without the CloudEvents binding, whose generic parsing costs two to three
# times as much per record (a replay of the log decodes millions); any other shape goes
# through ``from_kafka_record``.
_USUAL_HEADERS = frozenset({"ce_id", "ce_source", "ce_type", "ce_time", "ce_specversion"})
_OPTIONAL_HEADERS = frozenset({"content-type", "ce_subject", f"ce_{CORRELATION_EXTENSION}"})


def _usual_record(
    key: bytes | None, value: bytes | None, headers: Sequence[tuple[str, bytes]]
) -> EventEnvelope | None:
    """The envelope of a record shaped as ``to_kafka_record`` writes it, or None."""
    found = dict(headers)
    names = found.keys()
    if not (_USUAL_HEADERS <= names and names <= _USUAL_HEADERS | _OPTIONAL_HEADERS):
        return None
    moment = found["ce_time"].decode()
    if (
        found["ce_specversion"] != b"1.0"
        or found.get("content-type", b"application/json") != b"application/json"
        or not moment.endswith("Z")
    ):
        return None
    data = from_json(value or b"")
    source, event_type = found["ce_source"].decode(), found["ce_type"].decode()
    if not isinstance(data, dict) or not source or not event_type:
        raise ValueError("event data is not a JSON object, or no source or type")
    subject, correlation = found.get("ce_subject"), found.get(f"ce_{CORRELATION_EXTENSION}")
    return EventEnvelope.model_construct(
        id=uuid.UUID(found["ce_id"].decode()),
        source=source,
        type=event_type,
        subject=subject.decode() if subject is not None else None,
        time=datetime.fromisoformat(moment),
        key=(key or b"").decode(),
        correlation_id=correlation.decode() if correlation is not None else None,
        data=data,
    )


def decode_record(
    key: bytes | None, value: bytes | None, headers: Sequence[tuple[str, bytes]]
) -> EventEnvelope:
    """``from_kafka_record``, faster for the records our producers write (same envelope, same
    :class:`MalformedEvent` for what is not one of ours)."""
    try:
        usual = _usual_record(key, value, headers)
    except Exception as exc:  # a broken id, time or JSON: not our event
        raise MalformedEvent(f"{type(exc).__name__}: {exc}") from exc
    return usual if usual is not None else from_kafka_record(key, value, headers)
