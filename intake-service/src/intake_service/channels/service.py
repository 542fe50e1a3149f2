"""The one submission path of every JSON channel: the channel's draft, normalised, then
registered (or recognised as a repeat) in one transaction."""

from __future__ import annotations

from pydantic import BaseModel
from redress_shared.auth import Principal
from redress_shared.clock import Clock
from redress_shared.db import SessionFactory

from intake_service.channels.model import to_draft
from intake_service.complaints.model import IdempotencyClaim, RawSubmission
from intake_service.complaints.schemas import ComplaintAccepted
from intake_service.complaints.service import register_complaint
from intake_service.config import DEFAULT_POLICY, IntakePolicy
from intake_service.normalisation.service import normalise


async def submit(
    session_factory: SessionFactory,
    clock: Clock,
    request: BaseModel,
    raw_body: bytes,
    client: Principal,
    idempotency_key: str | None,
    policy: IntakePolicy = DEFAULT_POLICY,
) -> tuple[ComplaintAccepted, bool]:
    """Register the complaint of ``request`` (any channel's body: JSON API, phone call, chat,
    social post); the answer and whether a new complaint was created.

    ``raw_body`` is kept exactly as it arrived; ``idempotency_key`` (scoped to ``client``)
    makes a repeat of the same body answer with the first complaint, while a different
    body raises IdempotencyKeyReused. An invalid submission raises InvalidComplaint.
    """
    channel_draft = to_draft(request)
    draft = await normalise(channel_draft.draft, channel_draft.extra_text, policy.parse_time_limit)
    raw = RawSubmission(draft.channel, "application/json", raw_body, client.name)
    claim = IdempotencyClaim.of(
        str(client.key_id), idempotency_key, request.model_dump(mode="json")
    )
    return await register_complaint(session_factory, clock, draft, raw, claim, policy=policy)
