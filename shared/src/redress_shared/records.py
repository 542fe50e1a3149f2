"""Events as Kafka records: the CloudEvents Kafka binding in binary mode (attributes in
``ce_*`` headers, the data as the value, the partition key as the record key)."""

from __future__ import annotations

import uuid
from typing import Any

from cloudevents.core.bindings import kafka as ce_kafka
from cloudevents.core.v1.event import CloudEvent

from redress_shared.events import CORRELATION_EXTENSION, EventEnvelope, MalformedEvent


def to_kafka_record(event: EventEnvelope) -> tuple[bytes, bytes, list[tuple[str, bytes]]]:
    """Encode an envelope as (key, value, headers) in CloudEvents Kafka binary mode."""
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


__all__ = ["from_kafka_record", "to_kafka_record"]
