"""Quarantine: stored submissions that could not be normalised, and the rules of replaying them."""

from __future__ import annotations

import uuid
from datetime import timedelta

from redress_shared.errors import DomainError

# A submission still "received" this long after its last change was stored but never
# normalised (the process died in between): it is listed and replayable like a quarantined
# one, so a crash cannot hide it.
STALLED_AFTER = timedelta(minutes=5)


class NotQuarantined(DomainError):
    """Only quarantined (or stalled) submissions can be replayed."""

    def __init__(self, status: str) -> None:
        super().__init__(
            f"Its status is {status}; only quarantined (or stalled) submissions can be replayed.",
            status_now=status,
        )


class StillQuarantined(DomainError):
    """A replay failed again: the submission stays in quarantine."""

    def __init__(self, reason: str | None, submission_id: uuid.UUID) -> None:
        super().__init__(reason, submission_id=str(submission_id))
