"""Routing and assignment rules, pure: which team a new case goes to (rules evaluated in
order, first match wins), and when moving a case must be explained."""

from __future__ import annotations

from dataclasses import dataclass

from redress_shared.errors import DomainError

DEFAULT_TEAM = "general"


@dataclass(frozen=True)
class RoutingRule:
    """Send cases matching every given field to ``team``; an empty field matches anything."""

    team: str
    category: str | None = None
    product: str | None = None
    language: str | None = None
    channel: str | None = None
    tier: str | None = None

    def matches(self, case: dict[str, str | None]) -> bool:
        """True if every field this rule sets equals the case's."""
        wanted = {
            "category": self.category,
            "product": self.product,
            "language": self.language,
            "channel": self.channel,
            "tier": self.tier,
        }
        return all(value is None or case.get(field) == value for field, value in wanted.items())


def route(rules: list[RoutingRule], case: dict[str, str | None]) -> tuple[str, int | None]:
    """The team for ``case`` and the position of the rule that chose it (None: default)."""
    for position, rule in enumerate(rules):
        if rule.matches(case):
            return rule.team, position
    return DEFAULT_TEAM, None


class UnknownTeam(DomainError):
    """A team that does not exist was named."""

    def __init__(self, names: list[str]) -> None:
        super().__init__(f"No team named {', '.join(names)}")
        self.names = names


class ReasonRequired(DomainError):
    """An escalation, or a move away from the current assignee, was not explained."""


def check_move_explained(
    *,
    current_team: str | None,
    current_assignee: str | None,
    team: str | None,
    assignee: str | None,
    escalate: bool,
    reason: str | None,
) -> None:
    """An escalation must say why; so must any move away from someone already working the
    case (another assignee, or another team)."""
    moving_away = current_assignee is not None and (
        assignee != current_assignee or team not in (None, current_team)
    )
    if (escalate or moving_away) and not (reason and reason.strip()):
        raise ReasonRequired(
            "An escalation, or a move away from the current assignee, needs a reason"
        )
