"""Operator endpoints every service has: outbox rows the broker refused (parked), listed with
the reason and re-driven once the cause is fixed."""

from __future__ import annotations

import uuid
from datetime import datetime

from fastapi import APIRouter, Request, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select, update

from redress_shared.auth import AUTH_RESPONSES, AdminPrincipal
from redress_shared.errors import NotFound, ProblemDetail

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

    model_config = ConfigDict(json_schema_extra={"examples": [_PARKED_EXAMPLE]})

    id: int = Field(description="The outbox row's id (its place in the service's stream).")
    event_id: uuid.UUID
    topic: str
    event_type: str
    message_key: str
    created_at: datetime
    parked_at: datetime
    park_reason: str | None = None


def outbox_admin_router() -> APIRouter:
    """List and re-drive this service's parked outbox rows (admin scope)."""
    router = APIRouter(prefix="/v1/admin/outbox", tags=["operations"], responses=AUTH_RESPONSES)

    def _parked(outbox):  # type: ignore[no-untyped-def]
        return select(
            outbox.c.id,
            outbox.c.event_id,
            outbox.c.topic,
            outbox.c.event["type"].astext.label("event_type"),
            outbox.c.message_key,
            outbox.c.created_at,
            outbox.c.parked_at,
            outbox.c.park_reason,
        ).where(outbox.c.parked_at.is_not(None), outbox.c.published_at.is_(None))

    @router.get("/parked", summary="List parked outbox rows")
    async def list_parked(
        request: Request, _: AdminPrincipal, limit: int = 100
    ) -> list[ParkedEventRead]:
        """Events this service could not publish, oldest first, with the broker's reason."""
        runtime = request.app.state.runtime
        outbox = runtime.tables.outbox
        async with runtime.session_factory() as session:
            rows = await session.execute(
                _parked(outbox).order_by(outbox.c.id).limit(max(1, min(limit, 1000)))
            )
        return [ParkedEventRead(**row._mapping) for row in rows]

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
        outbox = runtime.tables.outbox
        async with runtime.session_factory() as session, session.begin():
            row = (
                await session.execute(_parked(outbox).where(outbox.c.id == outbox_id))
            ).one_or_none()
            if row is None:
                raise NotFound("parked outbox row", outbox_id)
            await session.execute(
                update(outbox)
                .where(outbox.c.id == outbox_id)
                .values(parked_at=None, park_reason=None)
            )
        runtime.relay.wake()
        return ParkedEventRead(**row._mapping)

    return router
