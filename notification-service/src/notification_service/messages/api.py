"""HTTP entrypoints of customer messages: what was sent to whom, and how it went."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from redress_shared.auth import AUTH_RESPONSES, Principal, require_scope
from redress_shared.runtime import RuntimeDep

from notification_service.messages import service
from notification_service.messages.schemas import NotificationRead

READ_SCOPE = "notifications:read"
NotificationReader = Annotated[Principal, Depends(require_scope(READ_SCOPE))]

router = APIRouter(prefix="/v1/notifications", tags=["notifications"], responses=AUTH_RESPONSES)


@router.get(
    "",
    summary="List customer notifications",
    description=(
        "Newest first; filter by case. Each shows what was sent (kind, template version, "
        "language, subject), when, on which channel, and how every attempt went."
    ),
)
async def list_notifications(
    runtime: RuntimeDep,
    _: NotificationReader,
    case_id: uuid.UUID | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[NotificationRead]:
    listed = await service.list_notifications(runtime.session_factory, case_id, limit)
    return [NotificationRead.of(row, attempts) for row, attempts in listed]
