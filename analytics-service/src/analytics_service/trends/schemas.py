"""Response bodies of the complaint trends."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from analytics_service.reporting.model import Bucket, FigureWindow
from analytics_service.trends.model import Dimension, Trend

TREND_CSV_HEADER = ("bucket_start", "group", "count")


class TrendPoint(BaseModel):
    """Complaints received in one bucket for one group."""

    bucket_start: datetime = Field(examples=["2026-11-23T00:00:00+00:00"])
    group: str = Field(examples=["product_defect"])
    count: int = Field(examples=[12])


class TrendChange(BaseModel):
    """One group's total against the window of the same length just before."""

    current: int = Field(examples=[12])
    previous: int = Field(examples=[8])
    difference: int = Field(examples=[4])
    relative: float | None = Field(
        examples=[0.5], description="difference / previous; null when previous is 0."
    )


class TrendRead(BaseModel):
    """A complaint trend: counts per bucket and group, and totals per group."""

    bucket: str = Field(examples=["day"])
    group_by: str = Field(examples=["category"])
    time_zone: str = Field(examples=["UTC"])
    start: datetime = Field(alias="from")
    end: datetime = Field(alias="to")
    series: list[TrendPoint]
    totals: dict[str, int] = Field(examples=[{"product_defect": 12, "delivery": 3}])
    previous_from: datetime | None = Field(
        default=None, description="Start of the previous window (it ends at `from`)."
    )
    change: dict[str, TrendChange] = Field(
        default_factory=dict,
        description="Per group (in either window): total now against the previous window.",
    )

    model_config = {
        "populate_by_name": True,
        "json_schema_extra": {
            "examples": [
                {
                    "bucket": "day",
                    "group_by": "category",
                    "time_zone": "UTC",
                    "from": "2026-11-22T00:00:00Z",
                    "to": "2026-11-24T00:00:00Z",
                    "series": [
                        {"bucket_start": "2026-11-22T00:00:00Z", "group": "delivery", "count": 4},
                        {
                            "bucket_start": "2026-11-23T00:00:00Z",
                            "group": "product_defect",
                            "count": 12,
                        },
                    ],
                    "totals": {"delivery": 4, "product_defect": 12},
                    "previous_from": "2026-11-20T00:00:00Z",
                    "change": {
                        "delivery": {
                            "current": 4,
                            "previous": 5,
                            "difference": -1,
                            "relative": -0.2,
                        },
                        "product_defect": {
                            "current": 12,
                            "previous": 8,
                            "difference": 4,
                            "relative": 0.5,
                        },
                    },
                }
            ]
        },
    }

    @classmethod
    def of(
        cls, trend: Trend, window: FigureWindow, bucket: Bucket, group_by: Dimension
    ) -> TrendRead:
        """The response body of a trend over ``window``."""
        return cls(
            bucket=bucket.value,
            group_by=group_by.value,
            time_zone=window.time_zone.key,
            start=window.start,
            end=window.end,
            series=[
                TrendPoint(bucket_start=p.bucket_start, group=p.group, count=p.count)
                for p in trend.series
            ],
            totals=trend.totals,
            previous_from=trend.previous_start,
            change={
                group: TrendChange(
                    current=c.current,
                    previous=c.previous,
                    difference=c.difference,
                    relative=c.relative,
                )
                for group, c in trend.change.items()
            },
        )
