"""IANA time zone names as API input: checked against the time zone database."""

from __future__ import annotations

from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, StringConstraints


def known_time_zone(name: str) -> str:
    """``name`` when it is an IANA time zone such as ``Europe/Bucharest``, else ValueError."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise ValueError(f"{name!r} is not an IANA time zone such as 'Europe/Bucharest'") from error
    return name


TimeZoneName = Annotated[
    str, StringConstraints(min_length=1, max_length=64), AfterValidator(known_time_zone)
]
"""An IANA time zone name, checked against the time zone database (for API input)."""

__all__ = ["TimeZoneName", "known_time_zone"]
