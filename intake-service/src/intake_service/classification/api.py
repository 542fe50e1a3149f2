"""HTTP edge of the classification rules: read and replace a desk's keywords per language."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response
from redress_shared.auth import AUTH_RESPONSES, Principal, require_scope
from redress_shared.errors import ProblemDetail
from redress_shared.runtime import RuntimeDep
from redress_shared.web import ExpectedVersion, set_etag

from intake_service.classification import service
from intake_service.classification.schemas import (
    ClassificationRulesChangeRead,
    ClassificationRulesRead,
    ClassificationRulesSummary,
    ClassificationRulesUpdate,
)
from intake_service.complaints.api import ComplaintReader

RULES_WRITE_SCOPE = "classification-rules:write"
RulesWriter = Annotated[Principal, Depends(require_scope(RULES_WRITE_SCOPE))]

router = APIRouter(
    prefix="/v1/classification-rules", tags=["classification"], responses=AUTH_RESPONSES
)
_INVALID = {422: {"model": ProblemDetail, "description": "Not an ISO 639-1 code, or bad rules"}}


@router.get("", summary="List the languages with classification rules")
async def list_rules(runtime: RuntimeDep, _: ComplaintReader) -> list[ClassificationRulesSummary]:
    """Every language with built-in keyword tables or a desk's own rules."""
    views = await service.list_rules(runtime.session_factory)
    return [
        ClassificationRulesSummary(
            language=view.language,
            version=view.version,
            built_in_keywords=view.built_in.keyword_count() if view.built_in else 0,
            effective_keywords=view.effective.keyword_count(),
        )
        for view in views
    ]


@router.get(
    "/{language}",
    summary="Read one language's classification rules",
    description="Built-in keywords, the desk's changes and what applies; the `ETag` is the "
    "version to send back as `If-Match` when replacing them.",
    responses=_INVALID,
)
async def read_rules(
    language: str, response: Response, runtime: RuntimeDep, _: ComplaintReader
) -> ClassificationRulesRead:
    """One language's rules."""
    view = await service.read_rules(runtime.session_factory, language)
    set_etag(response, view.version)
    return ClassificationRulesRead.of(view)


@router.put(
    "/{language}",
    summary="Replace a desk's classification rules for one language",
    description=(
        "Adds keywords per category (a new name makes a new category) and per priority signal "
        "(`legal_threat`, `deadline`, `reputation`), and turns built-in keywords off, for "
        "complaints registered from now on: at once on this replica, within "
        "`REDRESS_INTAKE_RULES_REFRESH_SECONDS` on the others. Each change is kept in the "
        "history with who made it. Limits: 80 characters a keyword, 200 a list, 1,000 a "
        "language, 30 categories."
    ),
    responses={
        **_INVALID,
        412: {"model": ProblemDetail, "description": "If-Match is stale"},
    },
)
async def replace_rules(
    language: str,
    body: ClassificationRulesUpdate,
    response: Response,
    runtime: RuntimeDep,
    principal: RulesWriter,
    expected: ExpectedVersion,
) -> ClassificationRulesRead:
    """Replace the desk's rules for one language."""
    view = await service.replace_rules(
        runtime.session_factory,
        runtime.clock,
        language,
        body.categories,
        body.signals,
        body.disabled,
        expected,
        principal.name,
    )
    set_etag(response, view.version)
    return ClassificationRulesRead.of(view)


@router.get(
    "/{language}/history",
    summary="List the changes of one language's classification rules",
    responses=_INVALID,
)
async def rules_history(
    language: str,
    runtime: RuntimeDep,
    _: ComplaintReader,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> list[ClassificationRulesChangeRead]:
    """The latest changes, newest first, each with who made it."""
    rows = await service.rules_history(runtime.session_factory, language, limit)
    return [ClassificationRulesChangeRead.model_validate(row, from_attributes=True) for row in rows]
