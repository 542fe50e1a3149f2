"""Analytics domain: the dimensions and buckets a trend can be cut by, and range rules."""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum


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
