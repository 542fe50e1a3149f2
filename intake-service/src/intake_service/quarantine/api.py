"""HTTP edge of the quarantine: list what waits for a fix, replay a submission."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Body, Query, status
from redress_shared.auth import AUTH_RESPONSES
from redress_shared.errors import ProblemDetail
from redress_shared.runtime import RuntimeDep

from intake_service.complaints.api import ComplaintReader, ComplaintWriter, Policy
from intake_service.email.schemas import SubmissionRead
from intake_service.quarantine import service
from intake_service.quarantine.schemas import QuarantinePage, ReplayCreate

router = APIRouter(prefix="/v1/quarantine", tags=["quarantine"], responses=AUTH_RESPONSES)


@router.get(
    "",
    summary="List quarantined submissions",
    description=(
        "Raw submissions that could not be normalised, oldest first, with the error. A "
        "submission stored but never normalised (the process stopped in between) is listed "
        "too, with status `received`, five minutes after it arrived."
    ),
)
async def list_quarantine(
    runtime: RuntimeDep,
    _: ComplaintReader,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> QuarantinePage:
    """A page of the quarantine, oldest first."""
    return await service.list_quarantine(runtime.session_factory, runtime.clock, limit, offset)


@router.post(
    "/{submission_id}/replay",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Replay a quarantined submission",
    description=(
        "Normalises the stored submission again, after a fix of the code or with an "
        "operator's `corrected_message` (kept beside the untouched original). Success "
        "registers the complaint (202) and publishes it; a submission that still fails "
        "stays in quarantine (422 `still-quarantined`)."
    ),
    responses={
        404: {"model": ProblemDetail, "description": "No such submission"},
        409: {"model": ProblemDetail, "description": "The submission is not in quarantine"},
        422: {"model": ProblemDetail, "description": "It still cannot be normalised"},
    },
)
async def replay_quarantined(
    submission_id: uuid.UUID,
    runtime: RuntimeDep,
    _: ComplaintWriter,
    policy: Policy,
    fix: Annotated[
        ReplayCreate | None,
        Body(examples=[{}, ReplayCreate.model_config["json_schema_extra"]["examples"][0]]),
    ] = None,
) -> SubmissionRead:
    """Normalise a quarantined submission again."""
    corrected = fix.corrected_message.encode() if fix and fix.corrected_message else None
    return await service.replay_quarantined(
        runtime.session_factory, runtime.clock, submission_id, corrected, policy
    )
