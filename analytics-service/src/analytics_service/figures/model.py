"""Figure rules and types: how an SLA clock fared, which clock of a case is most in trouble,
outcomes summed per remedy type and currency, a period's satisfaction and its flags."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from analytics_service.alerts.model import satisfaction_flags
from analytics_service.facts.model import CLOCK_STOPPED_COLUMN, SlaClock
from analytics_service.reporting.model import share

OPEN_CASE_STATUSES = ("new", "acknowledged", "investigating", "awaiting_customer")
ALL = "all"


@dataclass(frozen=True)
class ClockFigures:
    """How one SLA clock fared for a group of cases."""

    met: int
    breached: int
    pending: int
    median_minutes: float | None
    p90_minutes: float | None

    @property
    def within_target_share(self) -> float | None:
        """Met among the cases whose clock has an outcome; ``None`` before any."""
        decided = self.met + self.breached
        return round(self.met / decided, 4) if decided else None


@dataclass(frozen=True)
class SlaGroup:
    """SLA figures of the cases of one priority and team (``all`` for a total)."""

    priority: str
    team: str
    cases: int
    clocks: dict[SlaClock, ClockFigures]


@dataclass(frozen=True)
class CaseAtRisk:
    """An open case with a clock that warned or breached and has not stopped."""

    case_id: Any
    reference: str | None
    priority: str | None
    team: str | None
    status: str
    clock: SlaClock
    state: str
    due_at: datetime | None
    since: datetime


def sla_group_of(row: Mapping[str, Any]) -> SlaGroup:
    """The SLA figures of one grouping-sets row (``all`` for the totals' grouped columns)."""
    clocks = {}
    for clock in SlaClock:
        met, breached = row[f"{clock.value}_met"], row[f"{clock.value}_breached"]
        median, p90 = row[f"{clock.value}_percentiles"] or (None, None)
        clocks[clock] = ClockFigures(
            met=met,
            breached=breached,
            pending=row["cases"] - met - breached,
            median_minutes=round(float(median), 2) if median is not None else None,
            p90_minutes=round(float(p90), 2) if p90 is not None else None,
        )
    return SlaGroup(
        priority=ALL if row["all_priorities"] else row["priority"],
        team=ALL if row["all_teams"] else row["team"],
        cases=row["cases"],
        clocks=clocks,
    )


def worst_clock(case: Mapping[str, Any], now: datetime) -> CaseAtRisk:
    """The clock of a case's progress row most in trouble: a breach beats a warning, the
    earlier deadline wins."""
    candidates = []
    for clock, stopped_column in CLOCK_STOPPED_COLUMN.items():
        stopped = None if clock is SlaClock.RESOLVE else case[stopped_column]
        warned = case[f"{clock.value}_warned_at"]
        breached = case[f"{clock.value}_breached_at"]
        due = case[f"{clock.value}_due_at"]
        overdue = due is not None and due < now and not case["was_paused"]
        if stopped is not None or (warned is None and breached is None and not overdue):
            continue
        state = "breached" if breached is not None or overdue else "warning"
        since = breached or (due if overdue else None) or warned
        candidates.append((state != "breached", due or since, clock, state, since))
    _, _, clock, state, since = min(candidates, key=lambda c: (c[0], c[1]))
    return CaseAtRisk(
        case_id=case["case_id"],
        reference=case["reference"],
        priority=case["priority"],
        team=case["team"],
        status=case["status"],
        clock=clock,
        state=state,
        due_at=case[f"{clock.value}_due_at"],
        since=since,
    )


@dataclass(frozen=True)
class SlaReport:
    """SLA figures of a window's cases, and the open cases at risk now."""

    groups: list[SlaGroup]
    at_risk: list[CaseAtRisk]
    at_risk_total: int


VALIDITIES = ("justified", "partly_justified", "unjustified")


@dataclass(frozen=True)
class RemedyCounts:
    """Remedies of one type, in their latest state."""

    remedy_type: str
    remedies: int
    declined: int
    delivered: int


@dataclass(frozen=True)
class RemedyValue:
    """Remedies given with a value, in one currency."""

    currency: str
    remedies: int
    total: Decimal


@dataclass(frozen=True)
class Outcomes:
    """Decisions, remedies and reopenings of a cohort of cases."""

    cases: int
    decisions: dict[str, int]
    remedies_by_type: list[RemedyCounts]
    remedy_value: list[RemedyValue]
    resolved: int
    reopened: int

    @property
    def decided(self) -> int:
        """Cases with a decision."""
        return sum(self.decisions.values())

    @property
    def reopen_rate(self) -> float | None:
        """Reopened at least once among the cases resolved at least once."""
        return round(self.reopened / self.resolved, 4) if self.resolved else None

    @property
    def decision_shares(self) -> dict[str, float | None]:
        """Each validity's share of the decided cases."""
        return {v: share(n, self.decided) for v, n in self.decisions.items()}


def outcomes_of(counts: Mapping[str, Any], per_type_and_currency: Iterable[Any]) -> Outcomes:
    """The cohort's outcomes from its counts and its remedies per type and currency (summed
    up per type, and per currency for the valued ones)."""
    by_type: dict[str, RemedyCounts] = {}
    value: dict[str, RemedyValue] = {}
    for row in per_type_and_currency:
        seen = by_type.get(row.remedy_type, RemedyCounts(row.remedy_type, 0, 0, 0))
        by_type[row.remedy_type] = RemedyCounts(
            row.remedy_type,
            seen.remedies + row.remedies,
            seen.declined + row.declined,
            seen.delivered + row.delivered,
        )
        if row.valued:
            seen_value = value.get(row.currency, RemedyValue(row.currency, 0, Decimal(0)))
            value[row.currency] = RemedyValue(
                row.currency, seen_value.remedies + row.valued, seen_value.total + row.total
            )
    return Outcomes(
        cases=counts["cases"],
        decisions={validity: counts.get(validity, 0) for validity in VALIDITIES},
        remedies_by_type=[by_type[kind] for kind in sorted(by_type)],
        remedy_value=[value[currency] for currency in sorted(value)],
        resolved=counts["resolved"],
        reopened=counts["reopened"],
    )


@dataclass(frozen=True)
class SatisfactionPeriod:
    """Satisfaction in one period: the surveys recorded in it and the cases closed in it."""

    period_start: datetime
    surveys: int
    coefficient: float | None
    would_recommend_share: float | None
    would_continue_share: float | None
    cases_closed: int
    closed_with_survey: int
    response_rate: float | None
    flags: list[str]


def satisfaction_period(
    period_start: datetime, counts: Mapping[str, Any], min_answers: int
) -> SatisfactionPeriod:
    """A period's satisfaction figures and flags from its survey and closing counts (a
    count the period has none of is missing)."""
    coefficient = counts.get("coefficient")
    coefficient = round(float(coefficient), 2) if coefficient is not None else None
    recommend_answers, recommend = counts.get("recommend_answers", 0), counts.get("recommend", 0)
    continue_answers, would_continue = (
        counts.get("continue_answers", 0),
        counts.get("continue", 0),
    )
    closed, answered = counts.get("closed", 0), counts.get("closed_answered", 0)
    flags = satisfaction_flags(
        coefficient, recommend_answers, recommend, continue_answers, would_continue, min_answers
    )
    return SatisfactionPeriod(
        period_start=period_start,
        surveys=counts.get("surveys", 0),
        coefficient=coefficient,
        would_recommend_share=share(recommend, recommend_answers),
        would_continue_share=share(would_continue, continue_answers),
        cases_closed=closed,
        closed_with_survey=answered,
        response_rate=share(answered, closed),
        flags=[flag.value for flag in flags],
    )


@dataclass(frozen=True)
class CustomerFigures:
    """Repeat complainers of a window (the list may be cut) and complaints per tier."""

    repeat: list[Any]
    repeat_total: int
    customers: int
    tiers: list[Any]

    @property
    def repeat_share(self) -> float | None:
        """Repeat complainers among the customers who complained."""
        return share(self.repeat_total, self.customers)
