"""Commitment rules, pure: promises made to the customer ("I'll call you back before
17:00") with a deadline; a missed one is treated like an SLA breach."""

from __future__ import annotations

from datetime import datetime

from redress_shared.errors import DomainError

OPEN = "open"
MISSED = "missed"
SETTLE_ACTIONS = {"keep": "kept", "cancel": "cancelled"}


class InvalidCommitment(DomainError):
    """A commitment without a usable deadline."""

    def __init__(self, title: str) -> None:
        super().__init__()
        self.title = title


class CommitmentSettled(DomainError):
    """The commitment is no longer open (kept, missed or cancelled already)."""

    def __init__(self, status: str) -> None:
        super().__init__(f"It is {status}")


def check_deadline(due_at: datetime, now: datetime) -> None:
    """A commitment's deadline has a time zone and lies in the future."""
    if due_at.tzinfo is None:
        raise InvalidCommitment("due_at needs a time zone offset")
    if due_at <= now:
        raise InvalidCommitment("A commitment's deadline must be in the future")


def settled_status(current: str, action: str) -> str:
    """The status ``action`` (keep, cancel) settles an open commitment in."""
    if current != OPEN:
        raise CommitmentSettled(current)
    return SETTLE_ACTIONS[action]
