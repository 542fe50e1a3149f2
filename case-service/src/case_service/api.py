"""HTTP entrypoints of the case service."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Response
from redress_shared.auth import AUTH_RESPONSES, Principal, require_scope
from redress_shared.errors import NotFound, Problem, ProblemDetail
from redress_shared.runtime import RuntimeDep

from case_service import service
from case_service.schemas import (
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
    row = await service.get_case(runtime.session_factory, case_id)
    if row is None:
        raise NotFound("case", case_id)
    response.headers["ETag"] = f'"{row.version}"'
    case = CaseRead.from_row(row)
    clocks = await service.case_clocks(runtime.session_factory, case_id, runtime.clock.now())
    settings = runtime.settings
    duplicates = await service.duplicate_suggestions(
        runtime.session_factory,
        row,
        timedelta(days=settings.duplicate_window_days),
        settings.duplicate_similarity_threshold,
    )
    return case.model_copy(
        update={
            "clocks": [ClockRead(**view) for view in clocks],
            "duplicate_suggestions": [
                DuplicateSuggestionRead(
                    case_id=d.case.case_id,
                    reference=d.case.reference,
                    status=d.case.status,
                    received_at=d.case.received_at,
                    similarity=d.similarity,
                )
                for d in duplicates
            ],
        }
    )


IfMatch = Annotated[
    str | None,
    Header(
        alias="If-Match",
        description="The ETag of the version you read; a stale one is refused with 412.",
    ),
]


def expected_version(if_match: str | None) -> int | None:
    """The case version an ``If-Match`` header names (None for absent or ``*``)."""
    if if_match is None or if_match.strip() == "*":
        return None
    tag = if_match.strip().removeprefix("W/").strip('"')
    if not tag.isdigit():
        raise Problem(
            400, "invalid-if-match", "If-Match is not an ETag of this API", f"Got {if_match!r}"
        )
    return int(tag)


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
    if_match: IfMatch = None,
) -> CaseRead:
    row = await service.transition_case(
        runtime.session_factory,
        runtime.clock,
        case_id=case_id,
        action=transition.action,
        actor=agent.name,
        reopen_window=timedelta(days=runtime.settings.reopen_window_days),
        expected_version=expected_version(if_match),
        reason=transition.reason,
        into_case_id=transition.into_case_id,
    )
    runtime.relay.notify()
    response.headers["ETag"] = f'"{row.version}"'
    return CaseRead.from_row(row)


@router.get("/{case_id}/events", summary="A case's history, oldest first", responses=NOT_FOUND)
async def read_case_history(
    case_id: uuid.UUID, runtime: RuntimeDep, _: CaseReader
) -> list[CaseHistoryEntryRead]:
    if await service.get_case(runtime.session_factory, case_id) is None:
        raise NotFound("case", case_id)
    rows = await service.case_history(runtime.session_factory, case_id)
    return [CaseHistoryEntryRead.model_validate(row) for row in rows]
