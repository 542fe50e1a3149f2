"""The e-mail edges, HTTP and SMTP alike: each takes the raw message to
:func:`intake_service.email.service.receive_email` and answers in its own protocol.

``POST /v1/intake/email``: 202 (200 for a repeat), 422 ``unparseable-message`` for a message
kept in quarantine, 413 ``attachment-too-large``.

The SMTP handler (served by :func:`intake_service.workers.run_smtp_listener`):
Its replies: 250 once the raw message is committed, whatever normalisation made of it (a
quarantined message is ours to fix and replay, so the sender must not retry or bounce it;
the reply names the quarantine id; an automatic one is recorded and ignored); 451 (try
again later) when it could not even be stored, so the sending server keeps it; 552 above
the message size limit (aiosmtpd enforces ``data_size_limit``) and when one attachment is
larger than the attachment limit (nothing is stored then).
"""

from __future__ import annotations

import structlog
from aiosmtpd.smtp import SMTP, Envelope, Session
from fastapi import APIRouter, Request, Response, status
from redress_shared.auth import AUTH_RESPONSES
from redress_shared.clock import Clock
from redress_shared.db import SessionFactory
from redress_shared.errors import Problem, ProblemDetail
from redress_shared.runtime import RuntimeDep

from intake_service.complaints.api import ComplaintWriter, Policy
from intake_service.complaints.model import AttachmentTooLarge
from intake_service.config import DEFAULT_POLICY, IntakePolicy
from intake_service.email import service
from intake_service.email.model import EmptyMessage, UnparseableMessage
from intake_service.email.schemas import SubmissionRead
from intake_service.email.service import EMAIL_CONTENT_TYPE

log = structlog.get_logger(__name__)

router = APIRouter(prefix="/v1/intake", tags=["intake"], responses=AUTH_RESPONSES)

EMAIL_EXAMPLE = (
    "From: Ana Pop <ana@example.com>\r\nTo: complaints@example.com\r\n"
    "Subject: =?utf-8?q?=C3=8Enc=C4=83rc=C4=83tor_stricat?=\r\n"
    "Message-ID: <c1@example.com>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
    "Încărcătorul s-a oprit după două zile. Comanda SO-1042.\r\n"
)


@router.post(
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
        200: {"model": SubmissionRead, "description": "A repeat of an earlier message"},
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
) -> SubmissionRead:
    """Take one raw e-mail posted over HTTP."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != EMAIL_CONTENT_TYPE:
        # A malformed request, not a domain refusal: HTTP's own problem.
        raise Problem(
            415,
            "unsupported-media-type",
            "Unsupported media type",
            "Send the raw message with Content-Type: message/rfc822.",
        )
    answer = await service.receive_email(
        runtime.session_factory, runtime.clock, await request.body(), f"api:{client.name}", policy
    )
    response.status_code = (
        status.HTTP_200_OK if answer.status == "duplicate" else status.HTTP_202_ACCEPTED
    )
    if answer.complaint_id:
        response.headers["Location"] = f"/v1/complaints/{answer.complaint_id}"
    return answer


class IntakeSmtpHandler:
    """aiosmtpd handler: each DATA is stored and normalised like an HTTP e-mail."""

    def __init__(
        self,
        session_factory: SessionFactory,
        clock: Clock,
        policy: IntakePolicy | None = None,
    ) -> None:
        self._session_factory = session_factory
        self._clock = clock
        self._policy = policy or DEFAULT_POLICY

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        """Store and normalise the message; the SMTP reply says what became of it."""
        peer = session.peer[0] if session.peer else "unknown"
        try:
            answer = await service.receive_email(
                self._session_factory,
                self._clock,
                envelope.original_content or b"",
                f"smtp:{peer}",
                self._policy,
            )
        except EmptyMessage:
            return "554 5.6.0 Empty message"
        except AttachmentTooLarge as exc:
            return f"552 5.3.4 {exc}"
        except UnparseableMessage as exc:
            # Stored, so ours to fix and replay: the sender must neither retry nor bounce it.
            log.info("email_received", status="quarantined", submission=str(exc.submission_id))
            return f"250 2.0.0 Kept in quarantine as {exc.submission_id} (quarantined)"
        except Exception:
            log.exception("email_not_stored", peer=str(session.peer))
            return "451 4.3.0 Temporary failure, please retry"
        log.info("email_received", status=answer.status, submission=str(answer.submission_id))
        if answer.status == "attached":
            return f"250 2.0.0 Added to {answer.reference} (attached)"
        if answer.reference:
            return f"250 2.0.0 Accepted as {answer.reference}"
        return f"250 2.0.0 Stored as {answer.submission_id} ({answer.status})"
