"""Response bodies of the analytics API."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class TrendPoint(BaseModel):
    """Complaints received in one bucket for one group."""

    bucket_start: datetime = Field(examples=["2026-11-23T00:00:00+00:00"])
    group: str = Field(examples=["product_defect"])
    count: int = Field(examples=[12])


class TrendRead(BaseModel):
    """A complaint trend: counts per bucket and group, and totals per group."""

    bucket: str = Field(examples=["day"])
    group_by: str = Field(examples=["category"])
    time_zone: str = Field(examples=["UTC"])
    start: datetime = Field(alias="from")
    end: datetime = Field(alias="to")
    series: list[TrendPoint]
    totals: dict[str, int] = Field(examples=[{"product_defect": 12, "delivery": 3}])

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
                }
            ]
        },
    }
