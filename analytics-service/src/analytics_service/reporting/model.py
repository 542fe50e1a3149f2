"""The window every figure covers, the buckets it can be cut into, and its CSV form."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from redress_shared.errors import DomainError

CSV_MEDIA_TYPE = "text/csv"


class UnknownTimeZone(DomainError):
    """A figure was asked in a time zone that is not an IANA zone."""


class InvalidRange(DomainError):
    """A figure was asked for an impossible or unreasonable time range."""


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


@dataclass(frozen=True)
class FigureWindow:
    """The [start, end) a figure covers and the time zone its periods are aligned in."""

    start: datetime
    end: datetime
    time_zone: ZoneInfo


def time_zone_named(name: str) -> ZoneInfo:
    """The IANA time zone ``name``; :class:`UnknownTimeZone` when there is none."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise UnknownTimeZone(f"'{name}' is not an IANA time zone") from exc


def resolve_window(
    start: datetime | None,
    end: datetime | None,
    tz: str,
    *,
    now: datetime,
    default_length: timedelta,
) -> FigureWindow:
    """The window asked for: times without an offset are read in ``tz``; ``end`` defaults to
    ``now`` and ``start`` to ``default_length`` before ``end``; ``start`` must come first."""
    time_zone = time_zone_named(tz)

    def aware(moment: datetime | None) -> datetime | None:
        if moment is None or moment.tzinfo is not None:
            return moment
        return moment.replace(tzinfo=time_zone)

    end = aware(end) or now
    start = aware(start) or end - default_length
    if start >= end:
        raise InvalidRange("'from' must be before 'to'")
    return FigureWindow(start, end, time_zone)


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


def share(part: int, whole: int) -> float | None:
    """``part / whole`` to four places; ``None`` when there is no whole to share."""
    return round(part / whole, 4) if whole else None


def wants_csv(accept: str | None) -> bool:
    """True when the client's ``Accept`` header asks for CSV."""
    return bool(accept and CSV_MEDIA_TYPE in accept)


def csv_text(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A CSV document: one header line, then one line per row (datetimes in ISO 8601,
    booleans as ``true``/``false`` as in JSON)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    for row in rows:
        writer.writerow([_csv_value(value) for value in row])
    return buffer.getvalue()


def _csv_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bool):
        return str(value).lower()
    return value


def csv_example(header: Sequence[str], *rows: Sequence[Any]) -> str:
    """An example CSV body for the OpenAPI docs."""
    lines = [",".join(header), *(",".join(str(v) for v in row) for row in rows)]
    return "\n".join(lines) + "\n"
