"""Alert rules: supplier defect thresholds, the practice's satisfaction rules, the incident
(spike) rule, and how an alert is identified and when it is raised."""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from analytics_service.config import AnalyticsSettings


SUPPLIER_DEFECTS = "supplier_defects"
INCIDENT = "incident"
SATISFACTION = "satisfaction"
_ALERT_ID_NAMESPACE = uuid.UUID("0f6d3c1e-5a4b-4c2d-9e8f-7a6b5c4d3e2f")


def alert_id_for(kind: str, subject: str, attribution: str, period_start: date) -> uuid.UUID:
    """The id of a condition's alert for a period: the same on every replay or rebuild, so
    subscribers (corrective actions, webhooks) recognise an alert they already know."""
    return uuid.uuid5(_ALERT_ID_NAMESPACE, f"{kind}|{subject}|{attribution}|{period_start}")


class Attribution(StrEnum):
    """Who caused an upheld product complaint."""

    SUPPLIER_COMPONENT = "supplier_component"
    MANUFACTURING = "manufacturing"


# Root causes recorded with the case decision, mapped to who is accountable for the defect.
ROOT_CAUSE_ATTRIBUTION: dict[str, Attribution] = {
    "supplier_component": Attribution.SUPPLIER_COMPONENT,
    "supplier": Attribution.SUPPLIER_COMPONENT,
    "manufacturing": Attribution.MANUFACTURING,
    "manufacturer_fault": Attribution.MANUFACTURING,
    "manufacturing_defect": Attribution.MANUFACTURING,
}
UPHELD_VALIDITIES = ("justified", "partly_justified")


def month_of(moment: datetime) -> tuple[date, date]:
    """First day of ``moment``'s month (UTC) and first day of the next month."""
    start = moment.astimezone(UTC).date().replace(day=1)
    end = (start + timedelta(days=32)).replace(day=1)
    return start, end


def above_threshold(count: int, threshold: int) -> bool:
    """The practice's rule: more than the threshold per period raises the alert."""
    return count > threshold


@dataclass(frozen=True)
class SupplierMonth:
    """One supplier in one month: complaints, decisions and upheld defects by cause, against
    the thresholds."""

    supplier: str
    month: date
    complaints: int
    decided: int
    upheld: int
    supplier_component: int
    manufacturing: int
    supplier_component_threshold: int
    manufacturing_threshold: int

    @property
    def upheld_share(self) -> float | None:
        """Upheld among decided; ``None`` before any decision."""
        return round(self.upheld / self.decided, 4) if self.decided else None

    @property
    def above_threshold(self) -> bool:
        """Either attribution's upheld count is above its threshold."""
        return above_threshold(
            self.supplier_component, self.supplier_component_threshold
        ) or above_threshold(self.manufacturing, self.manufacturing_threshold)


CounterKey = tuple[str, date, str]
"""(supplier, month, attribution): one upheld counter."""


def counter_key(
    supplier: str | None, received_at: datetime | None, validity: str | None, root_cause: str | None
) -> CounterKey | None:
    """The (supplier, month, attribution) an upheld, attributed decision counts towards."""
    if supplier is None or received_at is None or validity not in UPHELD_VALIDITIES:
        return None
    attribution = ROOT_CAUSE_ATTRIBUTION.get(root_cause or "")
    if attribution is None:
        return None
    return supplier, month_of(received_at)[0], attribution.value


def causes_of(attribution: Attribution) -> list[str]:
    """The root causes attributed to ``attribution``."""
    return [cause for cause, at in ROOT_CAUSE_ATTRIBUTION.items() if at is attribution]


# The practice's satisfaction rules: a coefficient below 8 needs action, and so does a period
# in which more than 2 in 10 would not recommend us or more than 3 in 10 would not continue.
SATISFACTION_TARGET = 8
NOT_RECOMMEND_LIMIT = (2, 10)
NOT_CONTINUE_LIMIT = (3, 10)


class SatisfactionFlag(StrEnum):
    """Why a period's satisfaction needs action."""

    LOW_COEFFICIENT = "coefficient_below_8"
    WOULD_NOT_RECOMMEND = "would_not_recommend_above_2_in_10"
    WOULD_NOT_CONTINUE = "would_not_continue_above_3_in_10"


def _more_than(part: int, whole: int, limit: tuple[int, int]) -> bool:
    """``part / whole > limit`` in integers, so 2 of 10 is not more than 2 in 10."""
    return whole > 0 and part * limit[1] > limit[0] * whole


def satisfaction_flags(
    coefficient: float | None,
    recommend_answers: int,
    recommend: int,
    continue_answers: int,
    would_continue: int,
    min_answers: int = 10,
) -> list[SatisfactionFlag]:
    """The flags a period with these survey answers raises. A share is judged only on at
    least ``min_answers`` answers ("2 in 10" needs ten to mean anything)."""
    flags = []
    if coefficient is not None and coefficient < SATISFACTION_TARGET:
        flags.append(SatisfactionFlag.LOW_COEFFICIENT)
    if recommend_answers >= min_answers and _more_than(
        recommend_answers - recommend, recommend_answers, NOT_RECOMMEND_LIMIT
    ):
        flags.append(SatisfactionFlag.WOULD_NOT_RECOMMEND)
    if continue_answers >= min_answers and _more_than(
        continue_answers - would_continue, continue_answers, NOT_CONTINUE_LIMIT
    ):
        flags.append(SatisfactionFlag.WOULD_NOT_CONTINUE)
    return flags


def incident_subject(category: str, value: str) -> str:
    """How an incident names its group, e.g. ``outage/RO`` or ``product_defect/CH-20``."""
    return f"{category}/{value}"


class IncidentScope(StrEnum):
    """What makes complaints "similar" besides their category."""

    PRODUCT = "product"
    REGION = "region"


@dataclass(frozen=True)
class IncidentGroup:
    """Similar complaints: one category, and one product or one region (the scope)."""

    scope: IncidentScope
    category: str
    value: str

    @property
    def subject(self) -> str:
        """How the group's incidents name it."""
        return incident_subject(self.category, self.value)

    @classmethod
    def of_subject(cls, scope: str, subject: str) -> IncidentGroup:
        """The group an incident's scope (attribution) and subject name."""
        category, _, value = subject.partition("/")
        return cls(IncidentScope(scope), category, value)


def poisson_tail_start(mean: float, probability: float) -> int:
    """The smallest ``n`` with P(N ≥ n) ≤ ``probability`` for N ~ Poisson(``mean``)."""
    n, below = 0, 0.0  # below = P(N < n)
    term = math.exp(-mean)  # P(N = n)
    while 1.0 - below > probability:
        below += term
        n += 1
        term *= mean / n
    return n


@dataclass(frozen=True)
class IncidentRule:
    """A spike of similar complaints is an incident.

    At the receipt time ``u`` of each complaint of a group (same category, and same product
    or same region), count the group's complaints in the window (u − W, u]; the baseline is
    the group's complaints in the D days before that window, scaled to one window:
    ``expected = baseline × W / D``. The window is a spike when its count reaches

        max(min_count, ⌈factor × expected⌉, 1 + q)

    where q is the smallest n with P(Poisson(expected) ≥ n) ≤ ``false_alarm_probability``:
    the window holds the complaint just arrived plus what the background brings, so on a
    steady background a window is taken for a spike with at most that probability. Only
    event times are used, so a replay or late events give the same answer.
    """

    window: timedelta = timedelta(minutes=60)
    baseline: timedelta = timedelta(days=7)
    factor: float = 4.0
    min_count: int = 5
    false_alarm_probability: float = 1e-5

    def expected(self, baseline_count: int) -> float:
        """Complaints one window would hold at the baseline's rate."""
        return baseline_count * (self.window / self.baseline)

    def threshold(self, baseline_count: int) -> int:
        """The count at which a window is a spike."""
        expected = self.expected(baseline_count)
        return max(
            self.min_count,
            math.ceil(self.factor * expected - 1e-9),
            1 + poisson_tail_start(expected, self.false_alarm_probability),
        )

    def is_spike(self, window_count: int, baseline_count: int) -> bool:
        """True when the window holds a spike above the baseline."""
        return window_count >= self.threshold(baseline_count)

    def finished(self, last_member_at: datetime, latest_seen: datetime) -> bool:
        """An incident ends when a whole window has passed since its last spike member."""
        return latest_seen > last_member_at + self.window


def satisfaction_conditions(
    coefficient: Decimal | None,
    recommend_answers: int,
    recommend: int,
    continue_answers: int,
    would_continue: int,
    min_answers: int = 10,
) -> dict[SatisfactionFlag, tuple[int, int]]:
    """Each satisfaction flag as an alert's (count, threshold), raised when count exceeds
    threshold: hundredths of a point the mean coefficient is below 8 (threshold 0); the
    answers that would not recommend against ⌊2 × answers / 10⌋; those that would not
    continue against ⌊3 × answers / 10⌋. Integers, so 2 in 10 is not more than 2 in 10.
    Below ``min_answers`` answers a share's count is 0 (not judged yet)."""
    shortfall = 0
    if coefficient is not None:
        shortfall = max(0, math.ceil(SATISFACTION_TARGET * 100 - coefficient * 100))
    if recommend_answers < min_answers:
        recommend = recommend_answers
    if continue_answers < min_answers:
        would_continue = continue_answers
    return {
        SatisfactionFlag.LOW_COEFFICIENT: (shortfall, 0),
        SatisfactionFlag.WOULD_NOT_RECOMMEND: (
            recommend_answers - recommend,
            recommend_answers * NOT_RECOMMEND_LIMIT[0] // NOT_RECOMMEND_LIMIT[1],
        ),
        SatisfactionFlag.WOULD_NOT_CONTINUE: (
            continue_answers - would_continue,
            continue_answers * NOT_CONTINUE_LIMIT[0] // NOT_CONTINUE_LIMIT[1],
        ),
    }


@dataclass(frozen=True)
class AlertRules:
    """The thresholds and rules the alerts are judged by (from the settings)."""

    thresholds: dict[Attribution, int]
    incident: IncidentRule
    satisfaction_min_answers: int = 10

    @classmethod
    def from_settings(cls, settings: AnalyticsSettings) -> AlertRules:
        """The rules the service's settings give."""
        return cls(
            thresholds={
                Attribution.SUPPLIER_COMPONENT: settings.supplier_component_threshold,
                Attribution.MANUFACTURING: settings.manufacturing_threshold,
            },
            incident=IncidentRule(
                window=timedelta(minutes=settings.incident_window_minutes),
                baseline=timedelta(days=settings.incident_baseline_days),
                factor=settings.incident_factor,
                min_count=settings.incident_min_count,
                false_alarm_probability=settings.incident_false_alarm_probability,
            ),
            satisfaction_min_answers=settings.satisfaction_min_answers,
        )
