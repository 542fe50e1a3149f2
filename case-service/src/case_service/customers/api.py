"""HTTP entrypoints for customer profiles: tier, preferred channel, language, contact points
and complaint history."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Response
from redress_shared.auth import AUTH_RESPONSES, Principal, require_scope
from redress_shared.errors import ProblemDetail
from redress_shared.runtime import RuntimeDep, ServiceRuntime
from redress_shared.web import ExpectedVersion, set_etag

from case_service.cases.api import CaseWriter
from case_service.customers import service
from case_service.customers.model import CustomerProfile
from case_service.customers.schemas import CustomerRead, CustomerUpdate

CustomerReader = Annotated[Principal, Depends(require_scope("cases:read"))]
router = APIRouter(prefix="/v1/customers", tags=["customers"], responses=AUTH_RESPONSES)
NOT_FOUND = {404: {"model": ProblemDetail, "description": "No such customer"}}


def _frequent(runtime: ServiceRuntime) -> dict:
    settings = runtime.settings
    return {
        "frequent_window": timedelta(days=settings.frequent_complainer_window_days),
        "frequent_threshold": settings.frequent_complainer_threshold,
    }


def _answer(profile: CustomerProfile, response: Response) -> CustomerRead:
    set_etag(response, profile.row.version)
    return CustomerRead.from_profile(profile)


@router.get(
    "/{customer_key}",
    summary="A customer's profile and complaint history",
    description="The `ETag` is the profile's version; send it as `If-Match` when updating.",
    responses=NOT_FOUND,
)
async def read_customer(
    customer_key: str, response: Response, runtime: RuntimeDep, _: CustomerReader
) -> CustomerRead:
    profile = await service.read_customer(
        runtime.session_factory, runtime.clock, customer_key, **_frequent(runtime)
    )
    return _answer(profile, response)


@router.patch(
    "/{customer_key}",
    summary="Change a customer's tier, preferred channel, language or contact points",
    description=(
        "New cases of the customer carry the preferred channel and language in "
        "`redress.case.opened.v1`, so the notification service writes where the customer "
        "wants. A preferred channel needs its contact point (`email` an e-mail address, "
        "`sms` a phone number)."
    ),
    responses={
        **NOT_FOUND,
        412: {"model": ProblemDetail, "description": "If-Match is stale"},
        422: {
            "model": ProblemDetail,
            "description": "Invalid field, or a preferred channel without its contact point",
        },
    },
)
async def update_customer(
    customer_key: str,
    update: CustomerUpdate,
    response: Response,
    runtime: RuntimeDep,
    agent: CaseWriter,
    expected: ExpectedVersion,
) -> CustomerRead:
    profile = await service.update_customer(
        runtime.session_factory,
        runtime.clock,
        customer_key,
        update.model_dump(exclude_unset=True),
        actor=agent.name,
        expected_version=expected,
        **_frequent(runtime),
    )
    return _answer(profile, response)
