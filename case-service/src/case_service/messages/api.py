"""HTTP entrypoint for a case's notes and responses to the customer."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, status
from redress_shared.auth import AUTH_RESPONSES
from redress_shared.runtime import RuntimeDep
from redress_shared.web import ExpectedVersion

from case_service.cases.api import CASE_WRITE_RESPONSES, CaseWriter
from case_service.messages import service
from case_service.messages.schemas import MessageCreate, MessageRead

router = APIRouter(prefix="/v1/cases/{case_id}", tags=["case outcomes"], responses=AUTH_RESPONSES)
COMMON = CASE_WRITE_RESPONSES


@router.post(
    "/messages",
    status_code=status.HTTP_201_CREATED,
    summary="Add an internal note or a response to the customer",
    description="A response meets the first-response SLA and is published for delivery.",
    responses=COMMON,
)
async def add_message(
    case_id: uuid.UUID,
    message: MessageCreate,
    runtime: RuntimeDep,
    agent: CaseWriter,
    expected: ExpectedVersion,
) -> MessageRead:
    row = await service.add_message(
        runtime.session_factory,
        runtime.clock,
        case_id=case_id,
        kind=message.kind,
        body=message.body,
        author=agent.name,
        expected_version=expected,
    )
    return MessageRead.model_validate(row)
