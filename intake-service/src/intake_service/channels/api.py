"""HTTP edge of the JSON channels: the API (``POST /v1/complaints``), phone calls, chats and
social posts. Each route parses its channel's body and calls the one submission path."""

# No ``from __future__ import annotations`` here: the endpoint factory annotates the body
# with the channel's model at run time, which FastAPI must see as a class, not a string.

import inspect
import json
from collections.abc import Awaitable, Callable

from fastapi import APIRouter, Request, Response, status
from fastapi.routing import APIRoute
from pydantic import BaseModel
from redress_shared.auth import AUTH_RESPONSES
from redress_shared.errors import Problem, ProblemDetail
from redress_shared.web import LeanRoute

from intake_service.channels import service
from intake_service.channels.schemas import ChatCreate, PhoneCallCreate, SocialPostCreate
from intake_service.channels.service import SubmissionQueue
from intake_service.complaints.api import (
    IDEMPOTENCY_KEY_MAX_LENGTH,
    WRITER,
    ComplaintWriter,
    IdempotencyKey,
)
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
        _answer(accepted, created, response)
        return accepted

    endpoint.__name__ = endpoint.__qualname__ = name
    return endpoint


def _answer(accepted: ComplaintAccepted, created: bool, response: Response) -> None:
    response.status_code = status.HTTP_202_ACCEPTED if created else status.HTTP_200_OK
    response.headers["Location"] = f"/v1/complaints/{accepted.complaint_id}"


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


# The content types the lean path reads as JSON (FastAPI reads any ``application/json`` or
# ``+json`` type so; the others take the route's own path, with the same outcome).
_JSON_CONTENT_TYPES = frozenset(
    {"application/json", "application/json; charset=utf-8", "application/json;charset=utf-8"}
)
_ENDPOINT_PARAMETERS = ["submission", "request", "response", "client", "idempotency_key"]


def _lean_submission(route: APIRoute) -> LeanRoute:
    """The lean path of a submission route (see :class:`~redress_shared.web.LeanRoutes`):
    for a request with a JSON body the route's model accepts, a valid ``Idempotency-Key`` (or
    none) and an API key with the write scope, the endpoint's work and answer without
    FastAPI's dependency solving; any other request is declined, and the route answers it
    (with the same checks in the same order, so every error is exactly the route's)."""
    # What the lean path does is what this endpoint does: a change to the route's
    # parameters or response options must be made here too.
    assert list(inspect.signature(route.endpoint).parameters) == _ENDPOINT_PARAMETERS
    assert not route.dependencies and route.response_model is ComplaintAccepted
    body_field, response_field = route.body_field, route.response_field
    assert body_field is not None and response_field is not None

    async def handle(request: Request, body: bytes) -> Response | None:
        headers = request.headers
        content_type = headers.get("content-type")
        if content_type is None or content_type.lower() not in _JSON_CONTENT_TYPES:
            return None
        idempotency_key = headers.get("idempotency-key")
        if idempotency_key is not None and not (
            0 < len(idempotency_key) <= IDEMPOTENCY_KEY_MAX_LENGTH
        ):
            return None
        try:
            client = await WRITER(request)
        except Problem:
            return None
        try:
            document = json.loads(body)  # as FastAPI reads a JSON body
        except (ValueError, RecursionError):
            return None
        submission, errors = body_field.validate(document, {}, loc=("body",))
        if errors:
            return None
        queue: SubmissionQueue = request.app.state.submission_queue
        accepted, created = await service.submit(queue, submission, body, client, idempotency_key)
        response = Response(response_field.serialize_json(accepted), media_type="application/json")
        _answer(accepted, created, response)
        return response

    return LeanRoute(route, handle)


LEAN_ROUTES = [_lean_submission(route) for route in router.routes if isinstance(route, APIRoute)]
"""The JSON channels' submission routes, the busiest of intake, with their lean paths."""
