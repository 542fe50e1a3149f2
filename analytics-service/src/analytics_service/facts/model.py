"""Fact rules: where a customer is, when an SLA clock stops, how a case-progress column merges
a late or repeated value (so that arrival order never matters)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

import phonenumbers


class SlaClock(StrEnum):
    """The three SLA clocks of a case, as the case service names them in its events."""

    ACKNOWLEDGE = "acknowledge"
    FIRST_RESPONSE = "first_response"
    RESOLVE = "resolve"


# The case progress column that holds when each clock stopped (was met or came too late).
CLOCK_STOPPED_COLUMN: dict[SlaClock, str] = {
    SlaClock.ACKNOWLEDGE: "acknowledged_at",
    SlaClock.FIRST_RESPONSE: "first_responded_at",
    SlaClock.RESOLVE: "resolved_at",
}

# Lifecycle actions that stop a clock, mirroring the case service's rules: acknowledging or
# starting work acknowledges; asking the customer for information or resolving is the first
# human answer (and acknowledges too). A response message stops both as well.
ACKNOWLEDGING_ACTIONS = frozenset({"acknowledge", "start", "request_info", "resolve"})
FIRST_RESPONSE_ACTIONS = frozenset({"request_info", "resolve"})

# How each case-progress column merges an incoming value with the stored one: the earliest
# time wins, or the first value known wins; flags are or-ed; team and status are merged by
# their own clocks (see ``facts.store.merge_progress``).
EARLIEST_COLUMNS = frozenset(
    {
        "acknowledged_at",
        "first_responded_at",
        "resolved_at",
        "closed_at",
        *(f"{clock.value}_warned_at" for clock in SlaClock),
        *(f"{clock.value}_breached_at" for clock in SlaClock),
    }
)
FIRST_KNOWN_COLUMNS = frozenset(
    {
        "complaint_id",
        "received_at",
        "reference",
        "opened_at",
        "priority",
        "customer_tier",
        "acknowledge_due_at",
        "first_response_due_at",
        "resolve_due_at",
    }
)
EVER_COLUMNS = frozenset({"reopened", "was_paused"})


def clock_stops(action: str, to_status: str, at: datetime) -> dict[str, datetime]:
    """The progress columns a lifecycle change stops (or closes) at ``at``."""
    stops: dict[str, datetime] = {}
    if action in ACKNOWLEDGING_ACTIONS:
        stops["acknowledged_at"] = at
    if action in FIRST_RESPONSE_ACTIONS:
        stops["first_responded_at"] = at
    if to_status == "resolved":
        stops["resolved_at"] = at
    if to_status == "closed":
        stops["closed_at"] = at
    return stops


def region_of(phone: str | None) -> str | None:
    """The ISO 3166 country of an E.164 phone number, the only place a complaint says where
    the customer is; ``None`` when there is no number or it cannot be placed."""
    if not phone:
        return None
    try:
        number = phonenumbers.parse(phone, None)
    except phonenumbers.NumberParseException:
        return None
    return phonenumbers.region_code_for_number(number) or None


def merge_progress_values(stored: dict[str, Any], incoming: dict[str, Any]) -> None:
    """Merge one case event's progress values into ``stored`` (the same case's earlier events
    of the batch), by the rules the upsert applies to the stored row, so a batch merged here
    and then upserted once ends as if its events had been upserted one by one."""
    for column, value in incoming.items():
        if value is None or column in ("team", "team_changed_at", "status", "status_version"):
            continue
        old = stored.get(column)
        if column in EARLIEST_COLUMNS:
            stored[column] = value if old is None else min(old, value)
        elif column in EVER_COLUMNS:
            stored[column] = bool(old) or value
        elif old is None:  # first known wins (and the case's own columns)
            stored[column] = value
    team_at = incoming.get("team_changed_at")
    if team_at is not None and (
        stored.get("team_changed_at") is None or team_at >= stored["team_changed_at"]
    ):
        stored["team"], stored["team_changed_at"] = incoming["team"], team_at
    version = incoming.get("status_version")
    if version is not None and (
        stored.get("status_version") is None or version > stored["status_version"]
    ):
        stored["status"], stored["status_version"] = incoming["status"], version
