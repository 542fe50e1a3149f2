"""HTTP edge of the JSON channels: the API (``POST /v1/complaints``), phone calls, chats and
social posts. Each route parses its channel's body and calls the one submission path."""

# No ``from __future__ import annotations`` here: the endpoint factory annotates the body
# with the channel's model at run time, which FastAPI must see as a class, not a string.

from collections.abc import Awaitable, Callable

from fastapi import APIRouter, Request, Response, status
from pydantic import BaseModel
from redress_shared.auth import AUTH_RESPONSES
from redress_shared.errors import ProblemDetail

from intake_service.channels import service
from intake_service.channels.schemas import ChatCreate, PhoneCallCreate, SocialPostCreate
from intake_service.channels.service import SubmissionQueue
from intake_service.complaints.api import ComplaintWriter, IdempotencyKey
from intake_service.complaints.schemas import ComplaintAccepted, ComplaintCreate

router = APIRouter(responses=AUTH_RESPONSES)


def _responses(invalid: str) -> dict:
    return {
        200: {"model": ComplaintAccepted, "description": "A repeat of an earlier submission"},
        400: {"model": ProblemDetail, "description": "The body is not valid JSON"},
        413: {"model": ProblemDetail, "description": "The body is larger than the limit"},
        422: {"model": ProblemDetail, "description": invalid},
    }


def _submission_endpoint(
    name: str, body_model: type[BaseModel]
) -> Callable[..., Awaitable[ComplaintAccepted]]:
    """A route taking ``body_model`` (one channel's body) to :func:`service.submit`: 202 with
    a new complaint, 200 with the first one for a repeat, and where the complaint is."""

    async def endpoint(
        submission: body_model,  # type: ignore[valid-type]
        request: Request,
        response: Response,
        client: ComplaintWriter,
        idempotency_key: IdempotencyKey = None,
    ) -> ComplaintAccepted:
        # The queue is read here, not as a dependency: one less for FastAPI to solve on
        # the busiest route.
        queue: SubmissionQueue = request.app.state.submission_queue
        accepted, created = await service.submit(
            queue, submission, await request.body(), client, idempotency_key
        )
        response.status_code = status.HTTP_202_ACCEPTED if created else status.HTTP_200_OK
        response.headers["Location"] = f"/v1/complaints/{accepted.complaint_id}"
        return accepted

    endpoint.__name__ = endpoint.__qualname__ = name
    return endpoint


submit_complaint = router.post(
    "/v1/complaints",
    tags=["complaints"],
    status_code=status.HTTP_202_ACCEPTED,
    summary="Submit a complaint",
    description=(
        "Registers a complaint from another system. The raw submission and the normalised "
        "complaint are stored before the answer; a case is opened asynchronously. A repeat "
        "(same `Idempotency-Key`, or same `external_id`) answers 200 with the first complaint."
    ),
    responses=_responses("The complaint is not valid"),
)(_submission_endpoint("submit_complaint", ComplaintCreate))

submit_phone_call = router.post(
    "/v1/intake/phone",
    tags=["intake"],
    status_code=status.HTTP_202_ACCEPTED,
    summary="Register a phone call",
    description=(
        "Registers a complaint from a call record at once (no written confirmation awaited). "
        "The caller's number is stored in E.164; the transcript (else the agent's notes) is "
        "the complaint text. The same `call_id` or `Idempotency-Key` answers 200 with the "
        "first complaint."
    ),
    responses=_responses("The submission is not valid"),
)(_submission_endpoint("submit_phone_call", PhoneCallCreate))

submit_chat = router.post(
    "/v1/intake/chat",
    tags=["intake"],
    status_code=status.HTTP_202_ACCEPTED,
    summary="Register a chat conversation",
    description=(
        "Registers a complaint from a chat: the customer's messages (in time order) make the "
        "complaint text, the agent's are kept as context. The same `chat_id` or "
        "`Idempotency-Key` answers 200 with the first complaint."
    ),
    responses=_responses("The submission is not valid"),
)(_submission_endpoint("submit_chat", ChatCreate))

submit_social_post = router.post(
    "/v1/intake/social",
    tags=["intake"],
    status_code=status.HTTP_202_ACCEPTED,
    summary="Register a social-media post or message",
    description=(
        "Registers a complaint from a social platform. The author's handle is a customer "
        "identity on that platform; a public post is flagged reputation-sensitive. The same "
        "platform + `post_id` or `Idempotency-Key` answers 200 with the first complaint."
    ),
    responses=_responses("The submission is not valid"),
)(_submission_endpoint("submit_social_post", SocialPostCreate))
