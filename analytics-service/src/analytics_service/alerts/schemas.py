"""Response bodies of the supplier defects and the alerts."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field

from analytics_service.alerts.model import SupplierMonth


class SupplierMonthRead(BaseModel):
    """One supplier in one month: complaints, decisions and upheld defects by cause."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "supplier": "Voltix",
                    "month": "2026-11-01",
                    "complaints": 31,
                    "decided": 20,
                    "upheld": 12,
                    "upheld_share": 0.6,
                    "supplier_component": 7,
                    "manufacturing": 2,
                    "supplier_component_threshold": 6,
                    "manufacturing_threshold": 4,
                    "above_threshold": True,
                }
            ]
        }
    )

    supplier: str
    month: date
    complaints: int
    decided: int
    upheld: int
    upheld_share: float | None = Field(
        description="Upheld among decided; null before any decision."
    )
    supplier_component: int
    manufacturing: int
    supplier_component_threshold: int
    manufacturing_threshold: int
    above_threshold: bool


class AlertRead(BaseModel):
    """An alert: raised when a watched condition starts, cleared when it ends."""

    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": "5f0e8d7c-6b5a-4948-8372-6a5b4c3d2e1f",
                    "kind": "supplier_defects",
                    "subject": "Voltix",
                    "attribution": "supplier_component",
                    "period_start": "2026-11-01",
                    "period_end": "2026-12-01",
                    "count": 7,
                    "threshold": 6,
                    "raised_at": "2026-11-20T14:03:00Z",
                    "cleared_at": None,
                }
            ]
        },
    )

    id: uuid.UUID
    kind: str
    subject: str
    attribution: str
    period_start: date
    period_end: date
    count: int
    threshold: int
    raised_at: datetime
    cleared_at: datetime | None
    first_member_at: datetime | None = Field(
        default=None, description="Incidents: receipt of the first member complaint."
    )
    last_member_at: datetime | None = Field(
        default=None, description="Incidents: receipt of the latest complaint of the spike."
    )
    members: list[uuid.UUID] | None = Field(
        default=None, description="Incidents: the similar complaints, to answer together."
    )


SUPPLIER_CSV_HEADER = (
    "supplier",
    "month",
    "complaints",
    "decided",
    "upheld",
    "upheld_share",
    "supplier_component",
    "manufacturing",
    "supplier_component_threshold",
    "manufacturing_threshold",
    "above_threshold",
)


def supplier_month_read(month: SupplierMonth) -> SupplierMonthRead:
    """The response body of one supplier month."""
    return SupplierMonthRead(**{column: getattr(month, column) for column in SUPPLIER_CSV_HEADER})
