"""Analytics domain: the dimensions and buckets a trend can be cut by, and range rules."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum

import phonenumbers


class Bucket(StrEnum):
    """Width of one trend bucket."""

    HOUR = "hour"
    DAY = "day"
    WEEK = "week"
    MONTH = "month"

    @property
    def approximate_width(self) -> timedelta:
        """Rough bucket width, for refusing absurd ranges before running the query."""
        return {
            Bucket.HOUR: timedelta(hours=1),
            Bucket.DAY: timedelta(days=1),
            Bucket.WEEK: timedelta(weeks=1),
            Bucket.MONTH: timedelta(days=28),
        }[self]


class Dimension(StrEnum):
    """What trend counts can be grouped by."""

    CATEGORY = "category"
    CHANNEL = "channel"
    PRODUCT = "product"
    SUPPLIER = "supplier"
    LANGUAGE = "language"
    PRIORITY = "priority"
    # The country of the customer's phone number (ISO 3166 alpha-2); see ``region_of``.
    REGION = "region"


class InvalidRange(ValueError):
    """A figure was asked for an impossible or unreasonable time range."""


def check_range(start: datetime, end: datetime, bucket: Bucket, max_buckets: int) -> None:
    """Refuse ``start >= end`` and ranges with more than ``max_buckets`` buckets."""
    if start >= end:
        raise InvalidRange("'from' must be before 'to'")
    buckets = (end - start) / bucket.approximate_width
    if buckets > max_buckets:
        raise InvalidRange(
            f"{int(buckets)} {bucket.value} buckets requested; at most {max_buckets} — "
            "use a wider bucket or a shorter range"
        )


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
OPEN_CASE_STATUSES = ("new", "acknowledged", "investigating", "awaiting_customer")


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


def previous_window(start: datetime, end: datetime) -> tuple[datetime, datetime]:
    """The window of the same length just before [start, end), to compare a figure with."""
    return start - (end - start), start


def relative_change(current: int, previous: int) -> float | None:
    """(current − previous) / previous; ``None`` when there was nothing before to compare."""
    return round((current - previous) / previous, 4) if previous else None


class IncidentScope(StrEnum):
    """What makes complaints "similar" besides their category."""

    PRODUCT = "product"
    REGION = "region"


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
