"""Operator endpoints every service has: outbox rows the broker refused (parked) and records
its consumers set aside on dead-letter topics, listed with the reason and re-driven once the
cause is fixed."""

from __future__ import annotations

import uuid
from datetime import datetime

from fastapi import APIRouter, Request, status
from pydantic import BaseModel, ConfigDict, Field

from redress_shared.auth import AUTH_RESPONSES, AdminPrincipal
from redress_shared.dead_letters import read_dead_letters, redrive
from redress_shared.errors import NotFound, Problem, ProblemDetail
from redress_shared.outbox import list_parked, unpark

_PARKED_EXAMPLE = {
    "id": 4711,
    "event_id": "0e22a3c4-5b6d-4e7f-8a9b-0c1d2e3f4a5b",
    "topic": "redress.complaints.v1",
    "event_type": "redress.complaint.received.v1",
    "message_key": "customer:ana@example.com",
    "created_at": "2026-12-02T10:00:00Z",
    "parked_at": "2026-12-02T10:00:01Z",
    "park_reason": "MessageSizeTooLargeError: The message is 1212432 bytes when serialized",
}


class ParkedEventRead(BaseModel):
    """An outbox row the relay could not publish and set aside."""

    model_config = ConfigDict(
        from_attributes=True, json_schema_extra={"examples": [_PARKED_EXAMPLE]}
    )

    id: int = Field(description="The outbox row's id (its place in the service's stream).")
    event_id: uuid.UUID
    topic: str
    event_type: str
    message_key: str
    created_at: datetime
    parked_at: datetime
    park_reason: str | None = None


_DEAD_LETTER_EXAMPLE = {
    "topic": "redress.complaints.v1",
    "partition": 1,
    "offset": 0,
    "source": "redress.complaints.v1/1/4711",
    "consumer": "case-service.complaints",
    "error": "ValueError('unknown channel: fax')",
    "event_id": "0e22a3c4-5b6d-4e7f-8a9b-0c1d2e3f4a5b",
    "event_type": "redress.complaint.received.v1",
}


class DeadLetterRead(BaseModel):
    """A record a consumer set aside after it failed by itself, bounded retries included."""

    model_config = ConfigDict(json_schema_extra={"examples": [_DEAD_LETTER_EXAMPLE]})

    topic: str = Field(description="The original topic (where a re-drive publishes it).")
    partition: int = Field(description="Partition on the dead-letter topic.")
    offset: int = Field(description="Offset on the dead-letter topic.")
    source: str = Field(description="Where it was read when it failed: topic/partition/offset.")
    consumer: str = Field(description="The consumer group that set it aside.")
    error: str
    event_id: str | None = None
    event_type: str | None = None


class DeadLetterPosition(BaseModel):
    """One dead letter, by its place on the dead-letter topic."""

    partition: int = Field(ge=0, examples=[1])
    offset: int = Field(ge=0, examples=[0])


class DeadLetterRedrive(BaseModel):
    """Which dead letters of a topic to publish again."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"topic": "redress.complaints.v1", "entries": [{"partition": 1, "offset": 0}]}
            ]
        }
    )

    topic: str = Field(examples=["redress.complaints.v1"])
    entries: list[DeadLetterPosition] | None = Field(
        default=None,
        max_length=1000,
        description="The dead letters to re-drive; omitted: every one listed for the topic.",
    )


class RedriveResult(BaseModel):
    """How many records were published again."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"redriven": 1}]})

    redriven: int


def dead_letters_router() -> APIRouter:
    """List and re-drive the dead letters of the topics this service consumes (admin scope)."""
    router = APIRouter(
        prefix="/v1/admin/dead-letters", tags=["operations"], responses=AUTH_RESPONSES
    )
    unknown_topic = {422: {"model": ProblemDetail, "description": "Not a topic it consumes"}}

    def consumed_topic(request: Request, topic: str) -> str:
        runtime = request.app.state.runtime
        consumed = sorted({t for consumer in runtime.consumers for t in consumer.topics})
        if topic not in consumed:
            raise Problem(
                422,
                "unknown-topic",
                "Not a topic this service consumes",
                f"{topic!r} is not consumed here",
                consumed_topics=consumed,
            )
        return topic

    @router.get("", summary="List dead letters", responses=unknown_topic)
    async def list_dead_letters(
        request: Request, _: AdminPrincipal, topic: str, limit: int = 100
    ) -> list[DeadLetterRead]:
        """The records set aside on ``<topic>.dlq``, with the error and the failing consumer."""
        runtime = request.app.state.runtime
        letters = await read_dead_letters(
            runtime.settings.kafka_bootstrap_servers,
            consumed_topic(request, topic),
            limit=max(1, min(limit, 1000)),
        )
        return [
            DeadLetterRead(
                topic=d.topic,
                partition=d.partition,
                offset=d.offset,
                source=d.source,
                consumer=d.consumer,
                error=d.error,
                event_id=d.event_id,
                event_type=d.event_type,
            )
            for d in letters
        ]

    @router.post("/redrive", summary="Re-drive dead letters", responses=unknown_topic)
    async def redrive_dead_letters(
        body: DeadLetterRedrive, request: Request, _: AdminPrincipal
    ) -> RedriveResult:
        """Publish the chosen dead letters again on their topic, once the cause is fixed;
        consumers that had applied one drop it by its event id."""
        runtime = request.app.state.runtime
        letters = await read_dead_letters(
            runtime.settings.kafka_bootstrap_servers, consumed_topic(request, body.topic)
        )
        if body.entries is not None:
            wanted = {(e.partition, e.offset) for e in body.entries}
            letters = [d for d in letters if (d.partition, d.offset) in wanted]
        return RedriveResult(redriven=await redrive(runtime.producer, letters))

    return router


def outbox_admin_router() -> APIRouter:
    """List and re-drive this service's parked outbox rows (admin scope)."""
    router = APIRouter(prefix="/v1/admin/outbox", tags=["operations"], responses=AUTH_RESPONSES)

    @router.get("/parked", summary="List parked outbox rows")
    async def list_parked_events(
        request: Request, _: AdminPrincipal, limit: int = 100
    ) -> list[ParkedEventRead]:
        """Events this service could not publish, oldest first, with the broker's reason."""
        runtime = request.app.state.runtime
        parked = await list_parked(
            runtime.session_factory, runtime.tables, limit=max(1, min(limit, 1000))
        )
        return [ParkedEventRead.model_validate(row) for row in parked]

    @router.post(
        "/parked/{outbox_id}/republish",
        status_code=status.HTTP_202_ACCEPTED,
        summary="Re-drive a parked outbox row",
        responses={404: {"model": ProblemDetail, "description": "No parked row with this id"}},
    )
    async def republish(outbox_id: int, request: Request, _: AdminPrincipal) -> ParkedEventRead:
        """Hand the row back to the relay (after raising a broker limit, say); if the broker
        refuses it again it is parked again, with the new reason."""
        runtime = request.app.state.runtime
        row = await unpark(runtime.session_factory, runtime.tables, outbox_id)
        if row is None:
            raise NotFound("parked outbox row", outbox_id)
        runtime.relay.wake()
        return ParkedEventRead.model_validate(row)

    return router
