"""HTTP entrypoints of the notification service."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from redress_shared.auth import AUTH_RESPONSES, Principal, require_scope
from redress_shared.runtime import RuntimeDep

from notification_service import service
from notification_service.schemas import NotificationRead

READ_SCOPE = "notifications:read"
SCOPES = [READ_SCOPE]

NotificationReader = Annotated[Principal, Depends(require_scope(READ_SCOPE))]

router = APIRouter(prefix="/v1/notifications", tags=["notifications"], responses=AUTH_RESPONSES)


@router.get("", summary="List customer notifications", description="Newest first; filter by case.")
async def list_notifications(
    runtime: RuntimeDep,
    _: NotificationReader,
    case_id: uuid.UUID | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[NotificationRead]:
    rows = await service.list_notifications(runtime.session_factory, case_id, limit)
    return [NotificationRead.model_validate(row) for row in rows]
