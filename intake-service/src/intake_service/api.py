"""HTTP entrypoints of intake: thin adapters from requests to use cases."""

from __future__ import annotations

import uuid
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Body, Depends, Header, Query, Request, Response, status
from redress_shared.auth import AUTH_RESPONSES, Principal, require_scope
from redress_shared.errors import NotFound, Problem, ProblemDetail
from redress_shared.runtime import RuntimeDep

from intake_service import service
from intake_service.config import IntakePolicy
from intake_service.models import AttachmentTooLarge
from intake_service.schemas import (
    ChatCreate,
    ComplaintAccepted,
    ComplaintCreate,
    ComplaintRead,
    CustomerMessageRead,
    PhoneCallCreate,
    QuarantinePage,
    ReplayRequest,
    SocialPostCreate,
    SubmissionAnswer,
)

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


def _policy(runtime: RuntimeDep) -> IntakePolicy:
    return runtime.settings.policy()


Policy = Annotated[IntakePolicy, Depends(_policy)]

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
    policy: Policy,
    idempotency_key: IdempotencyKey = None,
) -> ComplaintAccepted:
    accepted, created = await service.submit_api_complaint(
        runtime.session_factory,
        runtime.clock,
        complaint,
        await request.body(),
        client,
        idempotency_key,
        policy,
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
    rows = await service.customer_messages(runtime.session_factory, complaint_id)
    if rows is None:
        raise NotFound("complaint", complaint_id)
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
    found = await service.get_attachment(runtime.session_factory, complaint_id, attachment_id)
    if found is None:
        raise NotFound("attachment", attachment_id)
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


# Channels ----------------------------------------------------------------------------------

intake_router = APIRouter(prefix="/v1/intake", tags=["intake"], responses=AUTH_RESPONSES)

CHANNEL_RESPONSES = {
    200: {"model": ComplaintAccepted, "description": "A repeat of an earlier submission"},
    400: {"model": ProblemDetail, "description": "The body is not valid JSON"},
    413: {"model": ProblemDetail, "description": "The body is larger than the limit"},
    422: {"model": ProblemDetail, "description": "The submission is not valid"},
}


def _answer(
    response: Response, runtime, accepted: ComplaintAccepted, created: bool
) -> ComplaintAccepted:  # noqa: ANN001
    response.status_code = status.HTTP_202_ACCEPTED if created else status.HTTP_200_OK
    response.headers["Location"] = f"/v1/complaints/{accepted.complaint_id}"
    if created:
        runtime.relay.notify()
    return accepted


@intake_router.post(
    "/phone",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Register a phone call",
    description=(
        "Registers a complaint from a call record at once (no written confirmation awaited). "
        "The caller's number is stored in E.164; the transcript (else the agent's notes) is "
        "the complaint text. The same `call_id` or `Idempotency-Key` answers 200 with the "
        "first complaint."
    ),
    responses=CHANNEL_RESPONSES,
)
async def submit_phone_call(
    call: PhoneCallCreate,
    request: Request,
    response: Response,
    runtime: RuntimeDep,
    client: ComplaintWriter,
    policy: Policy,
    idempotency_key: IdempotencyKey = None,
) -> ComplaintAccepted:
    accepted, created = await service.submit_phone_call(
        runtime.session_factory,
        runtime.clock,
        call,
        await request.body(),
        client,
        idempotency_key,
        policy,
    )
    return _answer(response, runtime, accepted, created)


@intake_router.post(
    "/chat",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Register a chat conversation",
    description=(
        "Registers a complaint from a chat: the customer's messages (in time order) make the "
        "complaint text, the agent's are kept as context. The same `chat_id` or "
        "`Idempotency-Key` answers 200 with the first complaint."
    ),
    responses=CHANNEL_RESPONSES,
)
async def submit_chat(
    chat: ChatCreate,
    request: Request,
    response: Response,
    runtime: RuntimeDep,
    client: ComplaintWriter,
    policy: Policy,
    idempotency_key: IdempotencyKey = None,
) -> ComplaintAccepted:
    accepted, created = await service.submit_chat(
        runtime.session_factory,
        runtime.clock,
        chat,
        await request.body(),
        client,
        idempotency_key,
        policy,
    )
    return _answer(response, runtime, accepted, created)


@intake_router.post(
    "/social",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Register a social-media post or message",
    description=(
        "Registers a complaint from a social platform. The author's handle is a customer "
        "identity on that platform; a public post is flagged reputation-sensitive. The same "
        "platform + `post_id` or `Idempotency-Key` answers 200 with the first complaint."
    ),
    responses=CHANNEL_RESPONSES,
)
async def submit_social_post(
    post: SocialPostCreate,
    request: Request,
    response: Response,
    runtime: RuntimeDep,
    client: ComplaintWriter,
    policy: Policy,
    idempotency_key: IdempotencyKey = None,
) -> ComplaintAccepted:
    accepted, created = await service.submit_social_post(
        runtime.session_factory,
        runtime.clock,
        post,
        await request.body(),
        client,
        idempotency_key,
        policy,
    )
    return _answer(response, runtime, accepted, created)


EMAIL_EXAMPLE = (
    "From: Ana Pop <ana@example.com>\r\nTo: complaints@example.com\r\n"
    "Subject: =?utf-8?q?=C3=8Enc=C4=83rc=C4=83tor_stricat?=\r\n"
    "Message-ID: <c1@example.com>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
    "Încărcătorul s-a oprit după două zile. Comanda SO-1042.\r\n"
)


@intake_router.post(
    "/email",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Submit a raw e-mail",
    description=(
        "Takes one RFC 5322 message as the body (`Content-Type: message/rfc822`), the same "
        "path as the SMTP listener. The raw message is committed first; then it is normalised "
        "into a complaint (`accepted`), recognised as a repeat by its Message-ID or by the "
        "same customer sending the same text within the duplicate window (`duplicate`, 200), "
        "attached to the complaint it answers as the customer's message (`attached`: the "
        "complaint's reference in the subject, or a Message-ID of its thread in "
        "In-Reply-To/References), recorded but not registered because it is an auto-reply or "
        "a delivery report (`ignored`). A forwarded message is unwrapped: the original sender "
        "is the customer, the forwarder is kept in `context.forwarded_by`. A message that "
        "cannot be normalised (truncated MIME, no sender, no text) is kept in quarantine and "
        "answered 422 `unparseable-message` with its `submission_id` for a fix and a replay."
    ),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "message/rfc822": {"schema": {"type": "string", "examples": [EMAIL_EXAMPLE]}}
            },
        }
    },
    responses={
        200: {"model": SubmissionAnswer, "description": "A repeat of an earlier message"},
        413: {
            "model": ProblemDetail,
            "description": "The message is larger than the request limit "
            "(`payload-too-large`), or one attachment is larger than the attachment limit "
            "(`attachment-too-large`); nothing is stored",
        },
        415: {"model": ProblemDetail, "description": "The body is not message/rfc822"},
        422: {
            "model": ProblemDetail,
            "description": "The body is empty (`empty-message`, nothing stored), or the "
            "message cannot be normalised (`unparseable-message`: stored in quarantine, "
            "`submission_id` names it for `POST /v1/quarantine/{id}/replay`)",
        },
    },
)
async def submit_email(
    request: Request,
    response: Response,
    runtime: RuntimeDep,
    client: ComplaintWriter,
    policy: Policy,
) -> SubmissionAnswer:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "message/rfc822":
        raise Problem(
            415,
            "unsupported-media-type",
            "Unsupported media type",
            "Send the raw message with Content-Type: message/rfc822.",
        )
    message = await request.body()
    if not message.strip():
        raise Problem(422, "empty-message", "The message is empty", "The body has no bytes.")
    try:
        answer = await service.receive_email(
            runtime.session_factory, runtime.clock, message, f"api:{client.name}", policy
        )
    except AttachmentTooLarge as exc:
        raise Problem(
            413,
            "attachment-too-large",
            "An attachment is larger than the limit",
            str(exc),
            filename=exc.filename,
            size=exc.size,
            max_bytes=exc.limit,
        ) from exc
    if answer.status == "quarantined":
        # Kept (never lost) but not a complaint: the sender must know, and can quote the
        # submission id to have it fixed and replayed.
        raise Problem(
            422,
            "unparseable-message",
            "The message could not be normalised; it is kept in quarantine",
            answer.reason,
            submission_id=str(answer.submission_id),
            status_now="quarantined",
            replay=f"/v1/quarantine/{answer.submission_id}/replay",
        )
    response.status_code = (
        status.HTTP_200_OK if answer.status == "duplicate" else status.HTTP_202_ACCEPTED
    )
    if answer.complaint_id:
        response.headers["Location"] = f"/v1/complaints/{answer.complaint_id}"
        if answer.status in ("accepted", "attached"):
            runtime.relay.notify()
    return answer


# Quarantine ---------------------------------------------------------------------------------

quarantine_router = APIRouter(
    prefix="/v1/quarantine", tags=["quarantine"], responses=AUTH_RESPONSES
)


@quarantine_router.get(
    "",
    summary="List quarantined submissions",
    description=(
        "Raw submissions that could not be normalised, oldest first, with the error. A "
        "submission stored but never normalised (the process stopped in between) is listed "
        "too, with status `received`, five minutes after it arrived."
    ),
)
async def list_quarantine(
    runtime: RuntimeDep,
    _: ComplaintReader,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> QuarantinePage:
    return await service.list_quarantine(runtime.session_factory, runtime.clock, limit, offset)


@quarantine_router.post(
    "/{submission_id}/replay",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Replay a quarantined submission",
    description=(
        "Normalises the stored submission again, after a fix of the code or with an "
        "operator's `corrected_message` (kept beside the untouched original). Success "
        "registers the complaint (202) and publishes it; a submission that still fails "
        "stays in quarantine (422 `still-quarantined`)."
    ),
    responses={
        404: {"model": ProblemDetail, "description": "No such submission"},
        409: {"model": ProblemDetail, "description": "The submission is not in quarantine"},
        422: {"model": ProblemDetail, "description": "It still cannot be normalised"},
    },
)
async def replay_quarantined(
    submission_id: uuid.UUID,
    runtime: RuntimeDep,
    _: ComplaintWriter,
    policy: Policy,
    fix: Annotated[
        ReplayRequest | None,
        Body(examples=[{}, ReplayRequest.model_config["json_schema_extra"]["examples"][0]]),
    ] = None,
) -> SubmissionAnswer:
    corrected = fix.corrected_message.encode() if fix and fix.corrected_message else None
    answer = await service.replay_quarantined(
        runtime.session_factory, runtime.clock, submission_id, corrected, policy
    )
    if answer.status in ("accepted", "attached"):
        runtime.relay.notify()
    return answer
