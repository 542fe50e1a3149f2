"""Trend rules: what a trend can be grouped by, and how a total compares with the window
before."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class Dimension(StrEnum):
    """What trend counts can be grouped by."""

    CATEGORY = "category"
    CHANNEL = "channel"
    PRODUCT = "product"
    SUPPLIER = "supplier"
    LANGUAGE = "language"
    PRIORITY = "priority"
    # The country of the customer's phone number (ISO 3166 alpha-2); see ``facts.model.region_of``.
    REGION = "region"


@dataclass(frozen=True)
class BucketCount:
    """Complaints received in one bucket for one group."""

    bucket_start: datetime
    group: str
    count: int


@dataclass(frozen=True)
class GroupChange:
    """One group's total against the window of the same length just before."""

    current: int
    previous: int

    @property
    def difference(self) -> int:
        """How many more (or fewer, negative) than before."""
        return self.current - self.previous

    @property
    def relative(self) -> float | None:
        """The difference relative to before; ``None`` when there was nothing before."""
        return relative_change(self.current, self.previous)


@dataclass(frozen=True)
class Trend:
    """A trend's series, its totals per group and (when compared) the change per group."""

    series: list[BucketCount]
    totals: dict[str, int]
    previous_start: datetime | None = None
    change: dict[str, GroupChange] = field(default_factory=dict)


def previous_window(start: datetime, end: datetime) -> tuple[datetime, datetime]:
    """The window of the same length just before [start, end), to compare a figure with."""
    return start - (end - start), start


def relative_change(current: int, previous: int) -> float | None:
    """(current − previous) / previous; ``None`` when there was nothing before to compare."""
    return round((current - previous) / previous, 4) if previous else None


def totals_of(series: Iterable[BucketCount]) -> dict[str, int]:
    """Each group's count over the whole series."""
    totals: Counter[str] = Counter()
    for point in series:
        totals[point.group] += point.count
    return dict(totals)


def changes(current: Mapping[str, int], previous: Mapping[str, int]) -> dict[str, GroupChange]:
    """Per group found in either window (sorted): its total now against before."""
    return {
        group: GroupChange(current=current.get(group, 0), previous=previous.get(group, 0))
        for group in sorted(set(current) | set(previous))
    }
