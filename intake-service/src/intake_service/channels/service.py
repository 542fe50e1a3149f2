"""The one submission path of every JSON channel: the channel's draft, normalised, then
registered (or recognised as a repeat) by the submission queue, which commits the
submissions that arrive together in one transaction (a group commit)."""

from __future__ import annotations

import asyncio
from collections import deque

from pydantic import BaseModel
from redress_shared.auth import Principal
from redress_shared.clock import Clock
from redress_shared.db import SessionFactory
from redress_shared.observability import correlation_id_var

from intake_service.channels.model import to_draft
from intake_service.complaints.model import IdempotencyClaim, RawSubmission, Submission
from intake_service.complaints.schemas import ComplaintAccepted
from intake_service.complaints.service import Registered, log_registered, register_complaints
from intake_service.config import DEFAULT_POLICY, IntakePolicy
from intake_service.normalisation.service import normalise


class SubmissionQueue:
    """Group commit of the JSON channels' submissions.

    Each request queues its submission and waits; a writer takes everything queued (up to
    ``max_batch``) and registers it with :func:`register_complaints`, one transaction and a
    handful of statements for the whole batch, then answers each waiting request. So a
    request is still answered only after its raw submission, complaint and event are
    committed, while the round trips and commits are paid per batch instead of per request.
    Nothing waits for a batch to fill: a writer starts at once when one is free (at most
    ``writers`` at a time, each holding one connection), and what arrives meanwhile makes
    the next batch.
    """

    def __init__(
        self,
        session_factory: SessionFactory,
        clock: Clock,
        policy: IntakePolicy = DEFAULT_POLICY,
        *,
        writers: int = 2,
        max_batch: int = 100,
    ) -> None:
        self.policy = policy
        self._session_factory = session_factory
        self._clock = clock
        self._writers = writers
        self._max_batch = max_batch
        self._queued: deque[tuple[Submission, asyncio.Future[Registered]]] = deque()
        self._writing = 0
        self._tasks: set[asyncio.Task] = set()

    async def register(self, submission: Submission) -> Registered:
        """Register ``submission`` (see :func:`register_complaints`) once its batch commits;
        the answer and whether a new complaint was created."""
        future: asyncio.Future[Registered] = asyncio.get_running_loop().create_future()
        self._queued.append((submission, future))
        if self._writing < self._writers:
            self._writing += 1
            task = asyncio.create_task(self._write_queued(), name="intake-submission-writer")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return await future

    async def _write_queued(self) -> None:
        batch: list[tuple[Submission, asyncio.Future[Registered]]] = []
        try:
            while self._queued:
                taken = min(len(self._queued), self._max_batch)
                batch = [self._queued.popleft() for _ in range(taken)]
                # A request that gave up (its client went away) is not registered.
                batch = [(submission, future) for submission, future in batch if not future.done()]
                if not batch:
                    continue
                outcomes = await register_complaints(
                    self._session_factory,
                    self._clock,
                    [submission for submission, _ in batch],
                    self.policy,
                )
                for (_, future), outcome in zip(batch, outcomes, strict=True):
                    if future.done():
                        continue
                    if isinstance(outcome, Exception):
                        future.set_exception(outcome)
                    else:
                        future.set_result(outcome)
                batch = []
        except BaseException:
            # Cancelled (the service stops; register_complaints returns every other error
            # as an outcome): no request waits for an answer that will not come.
            for _, future in [*batch, *self._queued]:
                future.cancel()
            self._queued.clear()
            raise
        finally:
            self._writing -= 1


async def submit(
    queue: SubmissionQueue,
    request: BaseModel,
    raw_body: bytes,
    client: Principal,
    idempotency_key: str | None,
) -> tuple[ComplaintAccepted, bool]:
    """Register the complaint of ``request`` (any channel's body: JSON API, phone call, chat,
    social post); the answer and whether a new complaint was created.

    ``raw_body`` is kept exactly as it arrived; ``idempotency_key`` (scoped to ``client``)
    makes a repeat of the same body answer with the first complaint, while a different
    body raises IdempotencyKeyReused. An invalid submission raises InvalidComplaint.
    """
    channel_draft = to_draft(request)
    draft = await normalise(
        channel_draft.draft, channel_draft.extra_text, queue.policy.parse_time_limit
    )
    raw = RawSubmission(draft.channel, "application/json", raw_body, client.name)
    claim = None
    if idempotency_key is not None:
        claim = IdempotencyClaim.of(
            str(client.key_id), idempotency_key, request.model_dump(mode="json")
        )
    submission = Submission(draft, raw, claim, correlation_id_var.get())
    accepted, created = await queue.register(submission)
    if created:
        log_registered(accepted, draft.channel)
    return accepted, created
