"""HTTP edge of complaints: read one, its customer messages and its attachments. Also the
request dependencies every intake router shares (scopes, the ``Idempotency-Key`` header,
the intake policy). Submitting is the channels' edge."""

from __future__ import annotations

import uuid
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Header, Response
from redress_shared.auth import AUTH_RESPONSES, Principal, require_scope
from redress_shared.errors import ProblemDetail
from redress_shared.runtime import RuntimeDep

from intake_service.complaints import service
from intake_service.complaints.schemas import (
    ComplaintRead,
    CustomerMessageRead,
)
from intake_service.config import IntakePolicy

WRITE_SCOPE = "complaints:write"
READ_SCOPE = "complaints:read"
SCOPES = [WRITE_SCOPE, READ_SCOPE]

WRITER = require_scope(WRITE_SCOPE)
"""The write scope's check (a dependency; the lean submission path calls it directly)."""
ComplaintWriter = Annotated[Principal, Depends(WRITER)]
ComplaintReader = Annotated[Principal, Depends(require_scope(READ_SCOPE))]
IDEMPOTENCY_KEY_MAX_LENGTH = 255
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=IDEMPOTENCY_KEY_MAX_LENGTH,
        description="Repeat a POST safely: the same key and body return the first answer.",
    ),
]


async def _policy(runtime: RuntimeDep) -> IntakePolicy:
    return runtime.settings.policy()


Policy = Annotated[IntakePolicy, Depends(_policy)]


router = APIRouter(prefix="/v1/complaints", tags=["complaints"], responses=AUTH_RESPONSES)


@router.get(
    "/{complaint_id}",
    summary="Read a registered complaint",
    responses={404: {"model": ProblemDetail, "description": "No such complaint"}},
)
async def read_complaint(
    complaint_id: uuid.UUID, runtime: RuntimeDep, _: ComplaintReader
) -> ComplaintRead:
    """The complaint as intake registered it (normalised, with its context)."""
    row = await service.read_complaint(runtime.session_factory, complaint_id)
    return ComplaintRead.model_validate(row, from_attributes=True)


@router.get(
    "/{complaint_id}/messages",
    summary="List the customer's later messages about a complaint",
    description=(
        "Replies attached to the complaint (recognised by its reference in the subject or "
        "by In-Reply-To/References), oldest first, each with how it was recognised."
    ),
    responses={404: {"model": ProblemDetail, "description": "No such complaint"}},
)
async def list_customer_messages(
    complaint_id: uuid.UUID, runtime: RuntimeDep, _: ComplaintReader
) -> list[CustomerMessageRead]:
    """The customer's later messages about a complaint, oldest first."""
    rows = await service.list_customer_messages(runtime.session_factory, complaint_id)
    return [CustomerMessageRead.model_validate(row) for row in rows]


@router.get(
    "/{complaint_id}/attachments/{attachment_id}",
    summary="Download an attachment of a complaint",
    description=(
        "The attachment's bytes exactly as they arrived (decoded from the e-mail's transfer "
        "encoding), with its content type and file name. The ids are in the complaint's "
        "`context.attachments` (and, for a reply, in the customer message's context). "
        "Equal bytes are stored once (by sha256), which is also the `ETag`."
    ),
    response_class=Response,
    responses={
        200: {
            "description": "The attachment's bytes",
            "content": {
                "application/octet-stream": {
                    "schema": {"type": "string", "format": "binary"},
                    "example": "%PDF-1.7 ...",
                }
            },
        },
        404: {"model": ProblemDetail, "description": "No such complaint or attachment"},
    },
)
async def download_attachment(
    complaint_id: uuid.UUID, attachment_id: uuid.UUID, runtime: RuntimeDep, _: ComplaintReader
) -> Response:
    """An attachment's bytes exactly as they arrived."""
    found = await service.read_attachment(runtime.session_factory, complaint_id, attachment_id)
    filename = found.filename or f"attachment-{attachment_id}"
    return Response(
        content=found.content,
        media_type=found.content_type,
        headers={
            # RFC 6266: an ASCII fallback and the exact UTF-8 name.
            "Content-Disposition": (
                f'attachment; filename="{filename.encode("ascii", "replace").decode()}"; '
                f"filename*=UTF-8''{quote(filename)}"
            ),
            "ETag": f'"{found.sha256}"',
            # Customer-supplied bytes: never let a browser guess them into HTML.
            "X-Content-Type-Options": "nosniff",
        },
    )
