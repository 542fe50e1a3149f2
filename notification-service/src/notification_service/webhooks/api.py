"""HTTP entrypoints of webhooks: subscriptions, their deliveries, redelivery and replay."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, status
from redress_shared.auth import AUTH_RESPONSES, Principal, require_scope
from redress_shared.errors import ProblemDetail
from redress_shared.runtime import RuntimeDep

from notification_service.webhooks import service
from notification_service.webhooks.schemas import (
    DeliveryRead,
    ReplayCreate,
    ReplayRead,
    WebhookCreate,
    WebhookRead,
    WebhookSecretRead,
    WebhookUpdate,
    WebhookWithSecretRead,
)

READ_SCOPE = "webhooks:read"
WRITE_SCOPE = "webhooks:write"
WebhookReader = Annotated[Principal, Depends(require_scope(READ_SCOPE))]
WebhookWriter = Annotated[Principal, Depends(require_scope(WRITE_SCOPE))]

WEBHOOKS_DESCRIPTION = """\
Deliveries follow the Standard Webhooks specification: a JSON `POST` with the headers
`webhook-id` (the same on every retry of one delivery), `webhook-timestamp` (Unix seconds) and
`webhook-signature` (`v1,` + base64 HMAC-SHA256 of `id.timestamp.body` keyed with the
base64-decoded part of the `whsec_` secret; two space-separated signatures while a rotated
secret's overlap lasts). The body carries no personal data:
`{"id", "type", "timestamp", "subject", "data"}` where `data` holds the event's ids and
non-personal fields (`case_id`, `reference`, `status`, ...). A 2xx answer is success; timeouts,
connection errors, 408, 429 (`Retry-After` honoured) and 5xx are retried with exponential
backoff and jitter until the schedule (about a day) is spent, then the delivery is dead
(`failed`, kept and redeliverable); other answers fail the delivery at once. An endpoint whose
every attempt fails for 5 days (configurable), or that answers 410 Gone, is disabled and its
owner told by the event `redress.notification.webhook_disabled.v1`.
"""

_NOT_FOUND = {404: {"model": ProblemDetail, "description": "No such webhook"}}
_DISABLED = {409: {"model": ProblemDetail, "description": "The webhook is disabled"}}
_REFUSED = {422: {"model": ProblemDetail, "description": "Unsafe URL or invalid filter"}}
_NO_SECRETS_KEY = {
    503: {"model": ProblemDetail, "description": "No key is configured to seal signing secrets"}
}

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"], responses={**AUTH_RESPONSES})


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Subscribe a URL to events",
    description=WEBHOOKS_DESCRIPTION
    + "\nThe answer holds the signing secret; it is never shown again.",
    responses={**_REFUSED, **_NO_SECRETS_KEY},
)
async def create_webhook(
    body: WebhookCreate, runtime: RuntimeDep, caller: WebhookWriter
) -> WebhookWithSecretRead:
    row, secret = await service.create_webhook(
        runtime.session_factory,
        runtime.clock,
        runtime.settings,  # type: ignore[arg-type]
        url=body.url,
        event_types=body.event_types,
        description=body.description,
        enabled=body.enabled,
        owner_key_id=caller.key_id,
    )
    return WebhookWithSecretRead(**WebhookRead.of(row).model_dump(), secret=secret)


@router.get("", summary="List webhooks")
async def list_webhooks(runtime: RuntimeDep, _: WebhookReader) -> list[WebhookRead]:
    return [WebhookRead.of(row) for row in await service.list_webhooks(runtime.session_factory)]


@router.get("/{webhook_id}", summary="Read a webhook", responses=_NOT_FOUND)
async def get_webhook(webhook_id: uuid.UUID, runtime: RuntimeDep, _: WebhookReader) -> WebhookRead:
    return WebhookRead.of(await service.get_webhook(runtime.session_factory, webhook_id))


@router.patch(
    "/{webhook_id}",
    summary="Change a webhook",
    description=(
        "URL, filter, description or enabled flag; re-enabling resets the failing streak "
        "(`failing_since`, `consecutive_failures`) and resumes pending deliveries."
    ),
    responses={**_NOT_FOUND, **_REFUSED},
)
async def update_webhook(
    webhook_id: uuid.UUID, body: WebhookUpdate, runtime: RuntimeDep, _: WebhookWriter
) -> WebhookRead:
    row = await service.update_webhook(
        runtime.session_factory,
        runtime.clock,
        runtime.settings,  # type: ignore[arg-type]
        webhook_id,
        body.model_dump(exclude_unset=True),
    )
    return WebhookRead.of(row)


@router.delete(
    "/{webhook_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a webhook",
    description="Removes the subscription with its deliveries and their attempts.",
    responses=_NOT_FOUND,
)
async def delete_webhook(webhook_id: uuid.UUID, runtime: RuntimeDep, _: WebhookWriter) -> None:
    await service.delete_webhook(runtime.session_factory, webhook_id)


@router.post(
    "/{webhook_id}/rotate-secret",
    summary="Rotate a webhook's signing secret",
    description=(
        "Returns the new secret (shown only now). The old one keeps signing, beside the new, "
        "for `overlap_seconds` (default from the service settings, one day)."
    ),
    responses={**_NOT_FOUND, **_NO_SECRETS_KEY},
)
async def rotate_secret(
    webhook_id: uuid.UUID,
    runtime: RuntimeDep,
    _: WebhookWriter,
    overlap_seconds: Annotated[float | None, Query(ge=0, le=30 * 86_400)] = None,
) -> WebhookSecretRead:
    row, secret = await service.rotate_webhook_secret(
        runtime.session_factory,
        runtime.clock,
        runtime.settings,  # type: ignore[arg-type]
        webhook_id,
        overlap_seconds,
    )
    return WebhookSecretRead(
        id=row.id, secret=secret, previous_secret_valid_until=row.previous_secret_expires_at
    )


@router.get(
    "/{webhook_id}/deliveries",
    summary="List a webhook's deliveries",
    description="Newest first, each with its attempts: status code, latency, response excerpt.",
    responses=_NOT_FOUND,
)
async def list_deliveries(
    webhook_id: uuid.UUID,
    runtime: RuntimeDep,
    _: WebhookReader,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[DeliveryRead]:
    listed = await service.list_deliveries(runtime.session_factory, webhook_id, limit)
    return [DeliveryRead.of(row, attempts) for row, attempts in listed]


@router.post(
    "/{webhook_id}/replay",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Deliver a time range again",
    description=(
        "Queues again every delivery of the webhook created in [since, until), or only the "
        "failed ones, each with a fresh retry budget and its original `webhook-id`."
    ),
    responses={
        **_NOT_FOUND,
        **_DISABLED,
        422: {"model": ProblemDetail, "description": "Empty or invalid range"},
    },
)
async def replay(
    webhook_id: uuid.UUID, body: ReplayCreate, runtime: RuntimeDep, _: WebhookWriter
) -> ReplayRead:
    queued = await service.replay_deliveries(
        runtime.session_factory,
        runtime.clock,
        webhook_id,
        body.since,
        body.until,
        body.only_failed,
    )
    return ReplayRead(queued=queued)


deliveries_router = APIRouter(
    prefix="/v1/deliveries", tags=["webhooks"], responses={**AUTH_RESPONSES}
)


@deliveries_router.post(
    "/{delivery_id}/redeliver",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Deliver again",
    description=(
        "Queues the delivery again now with a fresh retry budget, whatever its state; the "
        "receiver sees the same `webhook-id`."
    ),
    responses={
        404: {"model": ProblemDetail, "description": "No such delivery"},
        **_DISABLED,
    },
)
async def redeliver(delivery_id: uuid.UUID, runtime: RuntimeDep, _: WebhookWriter) -> DeliveryRead:
    row, attempts = await service.redeliver(runtime.session_factory, runtime.clock, delivery_id)
    return DeliveryRead.of(row, attempts)
