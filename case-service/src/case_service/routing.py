"""Routing: which team a new case goes to. Pure rules, evaluated in order, first match wins."""

from __future__ import annotations

from dataclasses import dataclass

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
