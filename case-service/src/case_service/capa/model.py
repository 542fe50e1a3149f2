"""Corrective and preventive actions (CAPA, ISO 9001 style): what is done so that a class of
complaints stops. Pure rules; no I/O."""

from __future__ import annotations

from enum import StrEnum

from redress_shared.errors import DomainError


class CapaStatus(StrEnum):
    """Where a corrective action is."""

    OPEN = "open"
    IN_PROGRESS = "in_progress"
    DONE = "done"
    CANCELLED = "cancelled"


CAPA_TRANSITIONS: dict[CapaStatus, frozenset[CapaStatus]] = {
    CapaStatus.OPEN: frozenset({CapaStatus.IN_PROGRESS, CapaStatus.DONE, CapaStatus.CANCELLED}),
    CapaStatus.IN_PROGRESS: frozenset({CapaStatus.DONE, CapaStatus.CANCELLED}),
    CapaStatus.DONE: frozenset(),
    CapaStatus.CANCELLED: frozenset(),
}


class InvalidCapaChange(DomainError):
    """A status change that is not allowed, or a closing without its effect."""


class UnknownCase(DomainError):
    """A corrective action was to be linked to cases that do not exist."""

    def __init__(self, case_ids: list[str]) -> None:
        super().__init__(f"No case with id {', '.join(case_ids)}")


CLOSED_STATUSES = frozenset({CapaStatus.DONE, CapaStatus.CANCELLED})


def check_capa_change(current: CapaStatus, target: CapaStatus, effect: str | None) -> None:
    """Closing records what the action achieved; finished actions stay finished."""
    if target is current:
        return
    if target not in CAPA_TRANSITIONS[current]:
        allowed = ", ".join(sorted(s.value for s in CAPA_TRANSITIONS[current])) or "nothing"
        raise InvalidCapaChange(
            f"cannot go from {current.value} to {target.value}; allowed: {allowed}"
        )
    if target is CapaStatus.DONE and not (effect and effect.strip()):
        raise InvalidCapaChange("closing a corrective action needs its effect recorded")


def alert_action_title(kind: str, subject: str, attribution: str | None) -> str:
    """The title of the corrective action an analytics alert opens."""
    title = f"{kind.replace('_', ' ').capitalize()}: {subject}"
    return title + (f" ({attribution.replace('_', ' ')})" if attribution else "")
