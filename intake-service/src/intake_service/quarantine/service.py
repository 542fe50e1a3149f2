"""Quarantine use cases: list what waits for a fix, and replay a submission."""

from __future__ import annotations

import uuid

from redress_shared.clock import Clock
from redress_shared.db import SessionFactory
from redress_shared.errors import NotFound

from intake_service.config import DEFAULT_POLICY, IntakePolicy
from intake_service.email.schemas import SubmissionRead
from intake_service.email.service import normalise_stored
from intake_service.quarantine import store
from intake_service.quarantine.model import NotQuarantined, StillQuarantined
from intake_service.quarantine.schemas import QuarantinedSubmissionRead, QuarantinePage


async def list_quarantine(
    session_factory: SessionFactory, clock: Clock, limit: int, offset: int
) -> QuarantinePage:
    """Quarantined (and stalled) raw submissions, oldest first."""
    now = clock.now()
    async with session_factory() as session:
        total = await store.count_replayable(session, now)
        rows = await store.list_replayable(session, now, limit, offset)
    return QuarantinePage(
        items=[QuarantinedSubmissionRead.model_validate(row, from_attributes=True) for row in rows],
        total=total,
    )


async def replay_quarantined(
    session_factory: SessionFactory,
    clock: Clock,
    submission_id: uuid.UUID,
    corrected_message: bytes | None,
    policy: IntakePolicy = DEFAULT_POLICY,
) -> SubmissionRead:
    """Normalise a quarantined submission again (after a code fix, or with an operator's
    corrected message, which is stored beside the untouched original).

    Raises NotFound, NotQuarantined (it is not waiting for a replay) or StillQuarantined
    (it failed again and stays in quarantine).
    """
    async with session_factory() as session, session.begin():
        # The row lock makes concurrent replays of one submission take turns; the second
        # then finds it no longer quarantined.
        row = await store.lock_submission(session, submission_id, clock.now())
        if row is None:
            raise NotFound("quarantined submission", submission_id)
        if not row.replayable:
            raise NotQuarantined(row.status)
        if corrected_message is not None:
            await store.save_correction(session, submission_id, corrected_message)
        message = (
            corrected_message if corrected_message is not None else row.corrected_payload
        ) or row.payload
        await store.mark_received(session, submission_id, clock.now())
    answer = await normalise_stored(
        session_factory, clock, submission_id, message, row.received_at, policy
    )
    if answer.status == "quarantined":
        raise StillQuarantined(answer.reason, submission_id)
    return answer
