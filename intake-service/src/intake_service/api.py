"""HTTP entrypoints of intake: thin adapters from requests to use cases."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Request, Response, status
from redress_shared.auth import AUTH_RESPONSES, Principal, require_scope
from redress_shared.errors import NotFound, ProblemDetail
from redress_shared.runtime import RuntimeDep

from intake_service import service
from intake_service.schemas import ComplaintAccepted, ComplaintCreate, ComplaintRead

WRITE_SCOPE = "complaints:write"
READ_SCOPE = "complaints:read"
SCOPES = [WRITE_SCOPE, READ_SCOPE]

ComplaintWriter = Annotated[Principal, Depends(require_scope(WRITE_SCOPE))]
ComplaintReader = Annotated[Principal, Depends(require_scope(READ_SCOPE))]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=255,
        description="Repeat a POST safely: the same key and body return the first answer.",
    ),
]

router = APIRouter(prefix="/v1/complaints", tags=["complaints"], responses=AUTH_RESPONSES)


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Submit a complaint",
    description=(
        "Registers a complaint from another system. The raw submission and the normalised "
        "complaint are stored before the answer; a case is opened asynchronously. A repeat "
        "(same `Idempotency-Key`, or same `external_id`) answers 200 with the first complaint."
    ),
    responses={
        200: {"model": ComplaintAccepted, "description": "A repeat of an earlier submission"},
        400: {"model": ProblemDetail, "description": "The body is not valid JSON"},
        413: {"model": ProblemDetail, "description": "The body is larger than the limit"},
        422: {"model": ProblemDetail, "description": "The complaint is not valid"},
    },
)
async def submit_complaint(
    complaint: ComplaintCreate,
    request: Request,
    response: Response,
    runtime: RuntimeDep,
    client: ComplaintWriter,
    idempotency_key: IdempotencyKey = None,
) -> ComplaintAccepted:
    accepted, created = await service.submit_api_complaint(
        runtime.session_factory,
        runtime.clock,
        complaint,
        await request.body(),
        client,
        idempotency_key,
    )
    response.status_code = status.HTTP_202_ACCEPTED if created else status.HTTP_200_OK
    response.headers["Location"] = f"/v1/complaints/{accepted.complaint_id}"
    if created:
        runtime.relay.notify()
    return accepted


@router.get(
    "/{complaint_id}",
    summary="Read a registered complaint",
    responses={404: {"model": ProblemDetail, "description": "No such complaint"}},
)
async def read_complaint(
    complaint_id: uuid.UUID, runtime: RuntimeDep, _: ComplaintReader
) -> ComplaintRead:
    row = await service.get_complaint(runtime.session_factory, complaint_id)
    if row is None:
        raise NotFound("complaint", complaint_id)
    return ComplaintRead.model_validate(row, from_attributes=True)
