"""HTTP entrypoints of cases (search, read, transitions, history) and the HTTP pieces every
write to a case shares: the scopes, `If-Match` and the `ETag`."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response
from redress_shared.auth import AUTH_RESPONSES, Principal, require_scope
from redress_shared.errors import ProblemDetail
from redress_shared.runtime import RuntimeDep
from redress_shared.web import ExpectedVersion, set_etag

from case_service.cases import service
from case_service.cases.schemas import (
    CaseFilter,
    CaseHistoryEntryRead,
    CasePage,
    CaseRead,
    CaseTransitionCreate,
    ClockRead,
    DuplicateSuggestionRead,
)

READ_SCOPE = "cases:read"
WRITE_SCOPE = "cases:write"
SCOPES = [READ_SCOPE, WRITE_SCOPE]

CaseReader = Annotated[Principal, Depends(require_scope(READ_SCOPE))]
CaseWriter = Annotated[Principal, Depends(require_scope(WRITE_SCOPE))]

router = APIRouter(prefix="/v1/cases", tags=["cases"], responses=AUTH_RESPONSES)
NOT_FOUND = {404: {"model": ProblemDetail, "description": "No such case"}}
CASE_WRITE_RESPONSES = {
    **NOT_FOUND,
    412: {"model": ProblemDetail, "description": "If-Match is stale"},
    422: {"model": ProblemDetail, "description": "Invalid or against a complaint-handling rule"},
}
"""The errors of a write to a case or one of its parts."""


@router.get(
    "",
    summary="List cases",
    description="Newest first, with cursor pagination. Filter by complaint, status or customer.",
    responses={400: {"model": ProblemDetail, "description": "Invalid cursor"}},
)
async def list_cases(
    runtime: RuntimeDep, _: CaseReader, filters: Annotated[CaseFilter, Query()]
) -> CasePage:
    rows, next_cursor = await service.list_cases(runtime.session_factory, filters)
    return CasePage(items=[CaseRead.from_row(row) for row in rows], next_cursor=next_cursor)


@router.get(
    "/{case_id}",
    summary="Read a case",
    description="The case with its SLA clocks and its likely duplicates (same customer, "
    "similar text, received close together) for an agent to confirm with a `merge`.",
    responses=NOT_FOUND,
)
async def read_case(
    case_id: uuid.UUID, response: Response, runtime: RuntimeDep, _: CaseReader
) -> CaseRead:
    settings = runtime.settings
    view = await service.read_case(
        runtime.session_factory,
        runtime.clock,
        case_id,
        duplicate_window=timedelta(days=settings.duplicate_window_days),
        duplicate_threshold=settings.duplicate_similarity_threshold,
    )
    set_etag(response, view.case.version)
    return CaseRead.from_row(view.case).model_copy(
        update={
            "clocks": [ClockRead(**clock) for clock in view.clocks],
            "duplicate_suggestions": [
                DuplicateSuggestionRead.from_suggestion(d) for d in view.duplicates
            ],
        }
    )


@router.post(
    "/{case_id}/transitions",
    summary="Move a case through its lifecycle",
    description=(
        "Actions: `acknowledge`, `start`, `request_info`, `resume`, `resolve`, `close`, `reopen` "
        "(within the reopen window after closing), `withdraw`, `merge` (into an open primary "
        "case) and `unmerge`. Each change is appended to the history and published as "
        "`redress.case.status_changed.v1`. Send the `ETag` you read as `If-Match`."
    ),
    responses={
        **NOT_FOUND,
        409: {"model": ProblemDetail, "description": "Not allowed now; lists the allowed actions"},
        412: {"model": ProblemDetail, "description": "If-Match is stale"},
        422: {"model": ProblemDetail, "description": "The action lacks a reason or a primary case"},
    },
)
async def transition_case(
    case_id: uuid.UUID,
    transition: CaseTransitionCreate,
    response: Response,
    runtime: RuntimeDep,
    agent: CaseWriter,
    expected: ExpectedVersion,
) -> CaseRead:
    row = await service.transition_case(
        runtime.session_factory,
        runtime.clock,
        case_id=case_id,
        action=transition.action,
        actor=agent.name,
        reopen_window=timedelta(days=runtime.settings.reopen_window_days),
        expected_version=expected,
        reason=transition.reason,
        into_case_id=transition.into_case_id,
    )
    set_etag(response, row.version)
    return CaseRead.from_row(row)


@router.get("/{case_id}/events", summary="A case's history, oldest first", responses=NOT_FOUND)
async def read_case_history(
    case_id: uuid.UUID, runtime: RuntimeDep, _: CaseReader
) -> list[CaseHistoryEntryRead]:
    rows = await service.case_history(runtime.session_factory, case_id)
    return [CaseHistoryEntryRead.model_validate(row) for row in rows]
