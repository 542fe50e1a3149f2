"""Request and response bodies of the SLA configuration API: business calendars and SLA
policies."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from case_service.sla.model import Priority

TIME = r"^([01]\d|2[0-3]):[0-5]\d$|^24:00$"


class CalendarCreate(BaseModel):
    """Working hours per weekday (local ``HH:MM``-``HH:MM``, ``24:00`` = midnight) and holidays."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "time_zone": "Europe/Bucharest",
                    "hours": {
                        day: [["09:00", "17:00"]] for day in ("mon", "tue", "wed", "thu", "fri")
                    },
                    "holidays": ["2026-12-01", "2026-12-25"],
                }
            ]
        }
    )

    time_zone: str = Field(examples=["Europe/Bucharest"])
    hours: dict[
        str, list[tuple[Annotated[str, Field(pattern=TIME)], Annotated[str, Field(pattern=TIME)]]]
    ]
    holidays: list[date] = []

    def values(self, name: str) -> dict[str, Any]:
        """The stored values of this calendar under ``name``."""
        return {
            "name": name,
            "time_zone": self.time_zone,
            "hours": {day: [list(span) for span in spans] for day, spans in self.hours.items()},
            "holidays": sorted({day.isoformat() for day in self.holidays}),
        }


class CalendarRead(CalendarCreate):
    """A business calendar."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "bucharest-office",
                    "time_zone": "Europe/Bucharest",
                    "hours": {
                        day: [["09:00", "17:00"]] for day in ("mon", "tue", "wed", "thu", "fri")
                    },
                    "holidays": ["2026-12-01"],
                }
            ]
        }
    )

    name: str

    @classmethod
    def from_row(cls, row) -> CalendarRead:  # noqa: ANN001
        """Build from a ``calendars`` row."""
        return cls(name=row.name, time_zone=row.time_zone, hours=row.hours, holidays=row.holidays)


class SlaPolicyCreate(BaseModel):
    """Targets for one priority, in business minutes on a calendar."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "priority": "normal",
                    "acknowledge_within_minutes": 480,
                    "first_response_within_minutes": 960,
                    "resolve_within_minutes": 4800,
                    "calendar": "bucharest-office",
                    "warning_share": 0.8,
                    "statutory_cap_days": 30,
                }
            ]
        }
    )

    priority: Priority
    acknowledge_within_minutes: int = Field(gt=0, le=525_600)
    first_response_within_minutes: int = Field(gt=0, le=525_600)
    resolve_within_minutes: int = Field(gt=0, le=525_600)
    calendar: str = "24x7"
    warning_share: float = Field(default=0.8, gt=0, lt=1)
    statutory_cap_days: int | None = Field(
        default=30, gt=0, le=3650, description="Calendar days from receipt for written complaints."
    )

    def values(self, name: str) -> dict[str, Any]:
        """The stored values of this policy under ``name``."""
        return {
            "name": name,
            "priority": self.priority.value,
            "acknowledge_within": timedelta(minutes=self.acknowledge_within_minutes),
            "first_response_within": timedelta(minutes=self.first_response_within_minutes),
            "resolve_within": timedelta(minutes=self.resolve_within_minutes),
            "calendar": self.calendar,
            "warning_share": self.warning_share,
            "statutory_cap": timedelta(days=self.statutory_cap_days)
            if self.statutory_cap_days
            else None,
        }


class SlaPolicyRead(SlaPolicyCreate):
    """An SLA policy."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "normal-default",
                    "priority": "normal",
                    "acknowledge_within_minutes": 1440,
                    "first_response_within_minutes": 2880,
                    "resolve_within_minutes": 20160,
                    "calendar": "24x7",
                    "warning_share": 0.8,
                    "statutory_cap_days": 30,
                }
            ]
        }
    )

    name: str

    @classmethod
    def from_row(cls, row) -> SlaPolicyRead:  # noqa: ANN001
        """Build from an ``sla_policies`` row."""
        return cls(
            name=row.name,
            priority=row.priority,
            acknowledge_within_minutes=_minutes(row.acknowledge_within),
            first_response_within_minutes=_minutes(row.first_response_within),
            resolve_within_minutes=_minutes(row.resolve_within),
            calendar=row.calendar,
            warning_share=row.warning_share,
            statutory_cap_days=row.statutory_cap.days if row.statutory_cap else None,
        )


def _minutes(interval: timedelta) -> int:
    return int(interval.total_seconds() // 60)
