"""HTTP entrypoints for customer profiles: tier, contact points and complaint history."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field
from redress_shared.auth import AUTH_RESPONSES, Principal, require_scope
from redress_shared.errors import NotFound, ProblemDetail
from redress_shared.runtime import RuntimeDep
from sqlalchemy import func, select

from case_service import tables
from case_service.api import CaseWriter

CustomerReader = Annotated[Principal, Depends(require_scope("cases:read"))]
router = APIRouter(prefix="/v1/customers", tags=["customers"], responses=AUTH_RESPONSES)
NOT_FOUND = {404: {"model": ProblemDetail, "description": "No such customer"}}


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
                    "tier": "vip",
                    "first_seen_at": "2026-01-10T08:00:00Z",
                    "last_complaint_at": "2026-11-23T19:57:20Z",
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
    tier: str
    first_seen_at: datetime
    last_complaint_at: datetime
    complaint_count: int
    complaints_in_window: int = Field(description="Complaints in the frequent-complainer window.")
    frequent_complainer: bool
    cases: list[CustomerCaseRead]


class CustomerUpdate(BaseModel):
    """What ops may change on a customer: the tier and the language to write in."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"tier": "vip"}]})

    tier: Literal["standard", "vip"] | None = None
    language: str | None = Field(default=None, pattern=r"^[a-z]{2,3}$")


async def _read(runtime, customer_key: str) -> CustomerRead:  # noqa: ANN001
    settings = runtime.settings
    since = runtime.clock.now() - timedelta(days=settings.frequent_complainer_window_days)
    cases = tables.cases
    async with runtime.session_factory() as session:
        row = (
            await session.execute(
                select(tables.customers).where(tables.customers.c.customer_key == customer_key)
            )
        ).first()
        if row is None:
            raise NotFound("customer", customer_key)
        in_window = await session.scalar(
            select(func.count()).where(
                cases.c.customer_key == customer_key, cases.c.received_at >= since
            )
        )
        recent = (
            await session.execute(
                select(
                    cases.c.id,
                    cases.c.reference,
                    cases.c.status,
                    cases.c.priority,
                    cases.c.category,
                    cases.c.received_at,
                )
                .where(cases.c.customer_key == customer_key)
                .order_by(cases.c.received_at.desc())
                .limit(50)
            )
        ).all()
    return CustomerRead(
        **row._mapping,
        complaints_in_window=in_window or 0,
        frequent_complainer=(in_window or 0) >= settings.frequent_complainer_threshold,
        cases=[CustomerCaseRead(**{**r._mapping, "id": str(r.id)}) for r in recent],
    )


@router.get(
    "/{customer_key}", summary="A customer's profile and complaint history", responses=NOT_FOUND
)
async def read_customer(customer_key: str, runtime: RuntimeDep, _: CustomerReader) -> CustomerRead:
    return await _read(runtime, customer_key)


@router.patch(
    "/{customer_key}", summary="Change a customer's tier or language", responses=NOT_FOUND
)
async def update_customer(
    customer_key: str, update: CustomerUpdate, runtime: RuntimeDep, _: CaseWriter
) -> CustomerRead:
    changes = update.model_dump(exclude_none=True)
    if changes:
        async with runtime.session_factory() as session, session.begin():
            result = await session.execute(
                tables.customers.update()
                .where(tables.customers.c.customer_key == customer_key)
                .values(**changes)
            )
            if result.rowcount == 0:
                raise NotFound("customer", customer_key)
    return await _read(runtime, customer_key)
