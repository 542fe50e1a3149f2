"""Request and response bodies of the customer profile API."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field, model_validator
from redress_shared.time_zones import TimeZoneName

from case_service.customers.model import CustomerProfile

PreferredChannel = Literal["email", "sms", "chat", "social"]


class CustomerCaseRead(BaseModel):
    """One of the customer's cases, in brief."""

    id: str
    reference: str
    status: str
    priority: str
    category: str | None
    received_at: datetime


class CustomerRead(BaseModel):
    """A customer as the case service knows them."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "customer_key": "749209eb-ffbc-5f5f-94bf-11f8e08b94c4",
                    "name": "Ana Pop",
                    "email": "ana@example.com",
                    "phone": "+40721000000",
                    "language": "ro",
                    "preferred_channel": "sms",
                    "time_zone": "Europe/Bucharest",
                    "tier": "vip",
                    "version": 3,
                    "first_seen_at": "2026-01-10T08:00:00Z",
                    "last_complaint_at": "2026-11-23T19:57:20Z",
                    "updated_at": "2026-11-24T09:00:00Z",
                    "updated_by": "ops-desk",
                    "complaint_count": 4,
                    "complaints_in_window": 3,
                    "frequent_complainer": True,
                    "cases": [],
                }
            ]
        }
    )

    customer_key: str
    name: str | None
    email: str | None
    phone: str | None
    language: str | None
    preferred_channel: PreferredChannel | None = Field(
        default=None, description="Where the customer wants to hear from us."
    )
    time_zone: str | None = Field(
        default=None, description="IANA time zone the customer's messages give times in."
    )
    tier: str
    version: int = Field(description="Changes with every profile update; the ETag.")
    first_seen_at: datetime
    last_complaint_at: datetime
    updated_at: datetime | None = Field(default=None, description="Last change by ops.")
    updated_by: str | None = None
    complaint_count: int
    complaints_in_window: int = Field(description="Complaints in the frequent-complainer window.")
    frequent_complainer: bool
    cases: list[CustomerCaseRead]

    @classmethod
    def from_profile(cls, profile: CustomerProfile) -> CustomerRead:
        """Build from a profile with its counts and recent cases."""
        return cls(
            **profile.row._mapping,
            complaints_in_window=profile.complaints_in_window,
            frequent_complainer=profile.frequent_complainer,
            cases=[
                CustomerCaseRead(**{**r._mapping, "id": str(r.id)}) for r in profile.recent_cases
            ],
        )


class CustomerUpdate(BaseModel):
    """What ops may change on a customer. Only the fields sent change; ``null`` clears a
    contact point or the preferred channel."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"tier": "vip"},
                {"preferred_channel": "sms", "phone": "+40721000000", "language": "ro"},
                {"time_zone": "Europe/Bucharest"},
            ]
        },
    )

    tier: Literal["standard", "vip"] | None = None
    preferred_channel: PreferredChannel | None = None
    language: str | None = Field(
        default=None, pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$", description="BCP 47, e.g. 'ro'"
    )
    name: str | None = Field(default=None, min_length=1, max_length=200)
    email: EmailStr | None = None
    phone: str | None = Field(default=None, pattern=r"^\+[1-9][0-9]{6,14}$", description="E.164")
    time_zone: TimeZoneName | None = Field(
        default=None,
        description="IANA time zone, e.g. 'Europe/Bucharest': times in the customer's messages "
        "are given in it; null: the desk's.",
    )

    @model_validator(mode="after")
    def _tier_cannot_be_cleared(self) -> CustomerUpdate:
        if "tier" in self.model_fields_set and self.tier is None:
            raise ValueError("every customer has a tier: send 'standard' or 'vip'")
        return self
