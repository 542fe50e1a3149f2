"""SQL of attachments: a complaint's (or its customer message's) files, their bytes stored
once per sha256. Every function takes the caller's session (the caller owns the
transaction)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Row, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from intake_service import tables
from intake_service.complaints.model import AttachmentFile


async def store_attachments(
    session: AsyncSession,
    now: datetime,
    complaint_id: uuid.UUID,
    attachments: tuple[AttachmentFile, ...],
    context: dict | None,
    message_id: uuid.UUID | None = None,
) -> dict:
    """Store the bytes once per sha256 and one row per attachment of the complaint (or of its
    customer message ``message_id``), stored before them since the rows point at it; then
    record them, with each attachment's id (for ``GET .../attachments/{id}``), in that
    complaint's or message's context. The new context."""
    documents = []
    for position, attachment in enumerate(attachments):
        attachment_id = uuid.uuid4()
        await session.execute(
            insert(tables.attachment_contents)
            .values(
                sha256=attachment.sha256,
                content=attachment.content,
                size=attachment.size,
                stored_at=now,
            )
            .on_conflict_do_nothing(index_elements=["sha256"])
        )
        await session.execute(
            tables.attachments.insert().values(
                id=attachment_id,
                complaint_id=complaint_id,
                message_id=message_id,
                sha256=attachment.sha256,
                filename=attachment.filename,
                content_type=attachment.content_type,
                size=attachment.size,
                position=position,
            )
        )
        documents.append({"id": str(attachment_id), **attachment.document()})
    context = {**(context or {}), "attachments": documents}
    owner = tables.complaint_messages if message_id is not None else tables.complaints
    await session.execute(
        owner.update()
        .where(owner.c.id == (message_id if message_id is not None else complaint_id))
        .values(context=context)
    )
    return context


async def get_attachment(
    session: AsyncSession, complaint_id: uuid.UUID, attachment_id: uuid.UUID
) -> Row | None:
    """One attachment of a complaint with its bytes, or None."""
    attachments, contents = tables.attachments, tables.attachment_contents
    return (
        await session.execute(
            select(
                attachments.c.filename,
                attachments.c.content_type,
                attachments.c.sha256,
                contents.c.content,
            )
            .join(contents, contents.c.sha256 == attachments.c.sha256)
            .where(attachments.c.id == attachment_id, attachments.c.complaint_id == complaint_id)
        )
    ).first()
