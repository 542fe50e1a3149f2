"""The event contract as data: one JSON Schema per event type and the AsyncAPI 3.0 document.

Everything here is derived from :mod:`redress_shared.events`; nothing is written by hand.
Which service sends or receives what lives in the service catalog, so the AsyncAPI
operations are built by ``redress_stack.contract`` and passed in to
:func:`asyncapi_document`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from redress_shared.events import (
    ALERTS_TOPIC,
    ALL_TOPICS,
    CASES_TOPIC,
    COMPLAINTS_TOPIC,
    CORRELATION_EXTENSION,
    EVENT_PAYLOADS,
    NOTIFICATIONS_TOPIC,
    WEBHOOK_DISABLED,
    dead_letter_topic,
)

ASYNCAPI_VERSION = "3.0.0"
CONTRACT_VERSION = "1.0.0"
JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
KAFKA_BINDING_VERSION = "0.5.0"
HEADERS_SCHEMA = "CloudEventsKafkaHeaders"
DEAD_LETTER_HEADERS_SCHEMA = "DeadLetterHeaders"
DEAD_LETTER_MESSAGE = "redress.dead_letter"


class ContractError(RuntimeError):
    """The events module and the contract description disagree (e.g. a type with no topic)."""


@dataclass(frozen=True)
class TopicContract:
    """What one topic carries and what its message key means."""

    description: str
    key_description: str
    key_path: tuple[str, ...] | None
    """Where the key is in each payload (``("customer", "customer_key")``), if it has one."""


TOPIC_CONTRACTS: dict[str, TopicContract] = {
    COMPLAINTS_TOPIC: TopicContract(
        description="Complaints registered by intake, one event per complaint.",
        key_description=(
            "Aggregate id: the customer key (`customer.customer_key`), so that one "
            "customer's complaints stay in order on one partition."
        ),
        key_path=("customer", "customer_key"),
    ),
    CASES_TOPIC: TopicContract(
        description="The case lifecycle: every event about a case, in order per case.",
        key_description="Aggregate id: the case id (`case_id`, a UUID).",
        key_path=("case_id",),
    ),
    NOTIFICATIONS_TOPIC: TopicContract(
        description=(
            "Outcomes of customer notifications (sent or finally failed), and webhook "
            "subscriptions the service switched off."
        ),
        key_description=(
            "Aggregate id: the id of the case the notification belongs to (`case_id`, a UUID); "
            "for webhook events the webhook id (`webhook_id`)."
        ),
        key_path=("case_id",),
    ),
    ALERTS_TOPIC: TopicContract(
        description="Analytics alerts: a watched condition was raised or cleared.",
        key_description="Aggregate id: the alert's id (`alert_id`, a UUID).",
        key_path=("alert_id",),
    ),
}

EVENT_KEY_PATHS: dict[str, tuple[str, ...]] = {WEBHOOK_DISABLED: ("webhook_id",)}
"""Event types whose message key is not at their topic's ``key_path``."""

EVENT_TOPIC_OVERRIDES: dict[str, str] = {}
"""Event types that do not follow the naming convention of :func:`topic_of` (none yet)."""


def topic_of(event_type: str) -> str:
    """The topic ``event_type`` travels on; ContractError if it has none.

    By convention ``redress.<aggregate>.<what>.vN`` goes to ``redress.<aggregate>s.v1``
    (``redress.case.opened.v1`` -> ``redress.cases.v1``); exceptions are listed in
    :data:`EVENT_TOPIC_OVERRIDES`.
    """
    topic = EVENT_TOPIC_OVERRIDES.get(event_type)
    if topic is None:
        parts = event_type.split(".")
        if len(parts) >= 4 and parts[0] == "redress":
            topic = f"redress.{parts[1]}s.v1"
    if topic is None or topic not in ALL_TOPICS:
        raise ContractError(
            f"event type {event_type!r} has no topic ({topic!r} is not in ALL_TOPICS): name it "
            "redress.<aggregate>.<what>.vN or add it to "
            "redress_shared.contract.EVENT_TOPIC_OVERRIDES"
        )
    return topic


def topic_contract(topic: str) -> TopicContract:
    """The description of ``topic``; ContractError if it is not described."""
    contract = TOPIC_CONTRACTS.get(topic)
    if contract is None:
        raise ContractError(
            f"topic {topic!r} is not described: add it to redress_shared.contract.TOPIC_CONTRACTS"
        )
    return contract


def event_types_on(topic: str) -> list[str]:
    """Event types published on ``topic``, sorted."""
    return sorted(t for t in EVENT_PAYLOADS if topic_of(t) == topic)


def message_key(topic: str, data: dict[str, Any], event_type: str | None = None) -> str | None:
    """The message key an event (of ``event_type``) with payload ``data`` on ``topic`` must
    carry (None: unknown)."""
    path = EVENT_KEY_PATHS.get(event_type or "") or topic_contract(topic).key_path
    if path is None:
        return None
    value: Any = data
    for part in path:
        value = value[part]
    return str(value)


# JSON Schemas ------------------------------------------------------------------------------


def event_schema(event_type: str) -> dict[str, Any]:
    """The stand-alone JSON Schema (draft 2020-12) of ``event_type``'s payload."""
    model = EVENT_PAYLOADS.get(event_type)
    if model is None:
        raise ContractError(f"unknown event type {event_type!r}")
    schema = model.model_json_schema()
    return {
        "$schema": JSON_SCHEMA_DIALECT,
        "$comment": (
            f"Payload (CloudEvents data) of {event_type} on {topic_of(event_type)}. "
            "Generated from redress_shared.events; do not edit."
        ),
        **schema,
    }


def event_schemas() -> dict[str, dict[str, Any]]:
    """Every registered event type's payload schema, by event type."""
    return {event_type: event_schema(event_type) for event_type in sorted(EVENT_PAYLOADS)}


def cloudevents_headers_schema() -> dict[str, Any]:
    """The Kafka headers of a binary-mode CloudEvent as this code writes them."""
    return {
        "type": "object",
        "description": (
            "CloudEvents Kafka protocol binding, binary content mode: context attributes in "
            "`ce_*` headers (UTF-8), the JSON payload as the record value."
        ),
        "properties": {
            "ce_id": {
                "type": "string",
                "format": "uuid",
                "description": "Event id; consumers deduplicate on it (inbox).",
            },
            "ce_source": {
                "type": "string",
                "format": "uri-reference",
                "description": "Producing service, e.g. `/redress/case-service`.",
                "examples": ["/redress/intake-service"],
            },
            "ce_type": {"type": "string", "description": "Event type; selects the payload."},
            "ce_specversion": {"type": "string", "const": "1.0"},
            "ce_time": {
                "type": "string",
                "format": "date-time",
                "description": "When the fact happened (RFC 3339).",
            },
            "ce_subject": {
                "type": "string",
                "description": "The entity the event is about (complaint, case or notification id).",
            },
            f"ce_{CORRELATION_EXTENSION}": {
                "type": "string",
                "description": "Correlation id of the request that caused the event (extension).",
            },
            "content-type": {"type": "string", "const": "application/json"},
        },
        "required": [
            "ce_id",
            "ce_source",
            "ce_type",
            "ce_specversion",
            "ce_time",
            "content-type",
        ],
    }


def dead_letter_headers_schema() -> dict[str, Any]:
    """Headers the consumer adds when it parks a record on ``<topic>.dlq``."""
    return {
        "type": "object",
        "description": (
            "The original record's headers (normally the CloudEvents headers, but a poison "
            "record may lack them) plus the dead-letter headers."
        ),
        "properties": {
            "redress_dlq_error": {
                "type": "string",
                "maxLength": 2000,
                "description": "Why the record was parked (last error, truncated).",
            },
            "redress_dlq_consumer": {
                "type": "string",
                "description": "Consumer group that gave up on the record.",
            },
            "redress_dlq_source": {
                "type": "string",
                "description": "Where the record came from: `<topic>/<partition>/<offset>`.",
                "examples": ["redress.cases.v1/2/117"],
            },
        },
        "required": ["redress_dlq_error", "redress_dlq_consumer", "redress_dlq_source"],
    }


# AsyncAPI ----------------------------------------------------------------------------------


def channel_id(topic: str) -> str:
    """The AsyncAPI channel id of ``topic`` (the topic name itself)."""
    return topic


def channel_ref(topic: str) -> dict[str, str]:
    """A ``$ref`` to ``topic``'s channel."""
    return {"$ref": f"#/channels/{channel_id(topic)}"}


def channel_message_refs(topic: str) -> list[dict[str, str]]:
    """``$ref``s to every message of ``topic``'s channel (for an operation's ``messages``)."""
    if topic.endswith(".dlq"):
        names = [DEAD_LETTER_MESSAGE]
    else:
        names = event_types_on(topic)
    return [{"$ref": f"#/channels/{channel_id(topic)}/messages/{name}"} for name in names]


def _payload_components() -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    """Payload schemas with their ``$defs`` hoisted into components; and type -> schema name."""
    schemas: dict[str, dict[str, Any]] = {}
    names: dict[str, str] = {}

    def add(name: str, schema: dict[str, Any]) -> None:
        if name in schemas and schemas[name] != schema:
            raise ContractError(f"two different payload schemas are both called {name!r}")
        schemas[name] = schema

    for event_type in sorted(EVENT_PAYLOADS):
        model = EVENT_PAYLOADS[event_type]
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        for name, definition in schema.pop("$defs", {}).items():
            add(name, definition)
        add(model.__name__, schema)
        names[event_type] = model.__name__
    return schemas, names


def _message(event_type: str, schema_name: str) -> dict[str, Any]:
    topic = topic_of(event_type)
    model = EVENT_PAYLOADS[event_type]
    return {
        "name": event_type,
        "title": event_type,
        "summary": " ".join((model.__doc__ or event_type).split()),
        "contentType": "application/json",
        "headers": {
            "allOf": [
                {"$ref": f"#/components/schemas/{HEADERS_SCHEMA}"},
                {
                    "type": "object",
                    "properties": {"ce_type": {"type": "string", "const": event_type}},
                },
            ]
        },
        "payload": {"$ref": f"#/components/schemas/{schema_name}"},
        "correlationId": {
            "description": "Correlation id of the request that caused the event.",
            "location": f"$message.header#/ce_{CORRELATION_EXTENSION}",
        },
        "bindings": {
            "kafka": {
                "key": {"type": "string", "description": topic_contract(topic).key_description},
                "bindingVersion": KAFKA_BINDING_VERSION,
            }
        },
    }


def _dead_letter_message() -> dict[str, Any]:
    return {
        "name": DEAD_LETTER_MESSAGE,
        "title": "Dead-lettered record",
        "summary": "A record a consumer could not process after its retries, as it was read.",
        "description": (
            "Key and value are the original record's bytes, unchanged; the value is normally "
            "one of the source topic's events but may be malformed (that is often why it "
            "is here)."
        ),
        "headers": {"$ref": f"#/components/schemas/{DEAD_LETTER_HEADERS_SCHEMA}"},
        "payload": {"description": "The original record value, unchanged."},
        "bindings": {
            "kafka": {
                "key": {"type": "string", "description": "The original record's key."},
                "bindingVersion": KAFKA_BINDING_VERSION,
            }
        },
    }


def _channels(partitions: int | None) -> dict[str, Any]:
    channels: dict[str, Any] = {}
    for topic in ALL_TOPICS:
        contract = topic_contract(topic)
        binding: dict[str, Any] = {"topic": topic, "bindingVersion": KAFKA_BINDING_VERSION}
        if partitions is not None:
            binding["partitions"] = partitions
        channels[channel_id(topic)] = {
            "address": topic,
            "title": topic,
            "description": f"{contract.description} Message key: {contract.key_description}",
            "messages": {
                name: {"$ref": f"#/components/messages/{name}"} for name in event_types_on(topic)
            },
            "bindings": {"kafka": binding},
        }
        dlq = dead_letter_topic(topic)
        dlq_binding = {**binding, "topic": dlq}
        channels[channel_id(dlq)] = {
            "address": dlq,
            "title": dlq,
            "description": (
                f"Dead-letter topic of {topic}: records its consumers gave up on, with the "
                "reason in `redress_dlq_*` headers."
            ),
            "messages": {
                DEAD_LETTER_MESSAGE: {"$ref": f"#/components/messages/{DEAD_LETTER_MESSAGE}"}
            },
            "bindings": {"kafka": dlq_binding},
        }
    return channels


def asyncapi_document(
    operations: dict[str, Any] | None = None,
    *,
    servers: dict[str, Any] | None = None,
    partitions: int | None = None,
) -> dict[str, Any]:
    """The AsyncAPI 3.0 document of every topic, its dead-letter topic and every event type.

    ``operations`` (who sends and receives what) and ``servers`` come from the service
    catalog, which this package does not know.
    """
    for event_type in EVENT_PAYLOADS:
        topic_of(event_type)  # fail early on an event type with no topic
    payloads, schema_names = _payload_components()
    messages: dict[str, Any] = {
        event_type: _message(event_type, schema_names[event_type])
        for event_type in sorted(EVENT_PAYLOADS)
    }
    messages[DEAD_LETTER_MESSAGE] = _dead_letter_message()
    document: dict[str, Any] = {
        "asyncapi": ASYNCAPI_VERSION,
        "info": {
            "title": "Redress events",
            "version": CONTRACT_VERSION,
            "description": (
                "The integration contract between Redress services: every Kafka topic, the "
                "events on it and who sends and receives them. Events are CloudEvents 1.0 in "
                "Kafka binary mode: attributes in `ce_*` headers, the JSON payload as the "
                "value, the aggregate id as the key. Payloads evolve additively (new optional "
                "fields only); a breaking change is a new `.vN` event type. Generated by "
                "`python -m redress_stack.contract write`; do not edit."
            ),
        },
        "defaultContentType": "application/json",
        "channels": _channels(partitions),
        "operations": operations or {},
        "components": {
            "schemas": {
                HEADERS_SCHEMA: cloudevents_headers_schema(),
                DEAD_LETTER_HEADERS_SCHEMA: dead_letter_headers_schema(),
                **payloads,
            },
            "messages": messages,
        },
    }
    if servers:
        document["servers"] = servers
    return document
