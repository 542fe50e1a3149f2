"""SQL of the quarantine: listing replayable raw submissions and taking one for a replay."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ColumnElement, Row, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from intake_service import tables
from intake_service.quarantine.model import STALLED_AFTER


def _replayable(now: datetime) -> ColumnElement[bool]:
    """Quarantined, or stored but left unnormalised for longer than STALLED_AFTER."""
    raws = tables.raw_submissions
    stalled = (raws.c.status == "received") & (
        func.coalesce(raws.c.updated_at, raws.c.received_at) < now - STALLED_AFTER
    )
    return (raws.c.status == "quarantined") | stalled


async def count_replayable(session: AsyncSession, now: datetime) -> int:
    """How many raw submissions wait for a replay."""
    raws = tables.raw_submissions
    total = await session.scalar(select(func.count()).select_from(raws).where(_replayable(now)))
    return total or 0


async def list_replayable(
    session: AsyncSession, now: datetime, limit: int, offset: int
) -> list[Row]:
    """A page of the raw submissions waiting for a replay, oldest first."""
    raws = tables.raw_submissions
    return list(
        (
            await session.execute(
                select(
                    raws.c.id,
                    raws.c.status,
                    raws.c.channel,
                    raws.c.content_type,
                    raws.c.received_at,
                    raws.c.submitted_by,
                    raws.c.error,
                    raws.c.attempts,
                    (raws.c.corrected_payload.is_not(None)).label("corrected"),
                    func.length(raws.c.payload).label("size_bytes"),
                )
                .where(_replayable(now))
                .order_by(raws.c.received_at, raws.c.id)
                .limit(limit)
                .offset(offset)
            )
        ).all()
    )


async def lock_submission(
    session: AsyncSession, submission_id: uuid.UUID, now: datetime
) -> Row | None:
    """The raw submission ``submission_id`` (status, payloads, received_at, replayable),
    locked for this transaction: concurrent replays of one submission take turns."""
    raws = tables.raw_submissions
    return (
        await session.execute(
            select(
                raws.c.status,
                raws.c.payload,
                raws.c.corrected_payload,
                raws.c.received_at,
                _replayable(now).label("replayable"),
            )
            .where(raws.c.id == submission_id)
            .with_for_update()
        )
    ).first()


async def save_correction(
    session: AsyncSession, submission_id: uuid.UUID, corrected: bytes
) -> None:
    """Store an operator's corrected message beside the untouched original."""
    raws = tables.raw_submissions
    await session.execute(
        raws.update().where(raws.c.id == submission_id).values(corrected_payload=corrected)
    )


async def mark_received(session: AsyncSession, submission_id: uuid.UUID, now: datetime) -> None:
    """Mark the submission as being normalised again (so a concurrent replay sees it)."""
    raws = tables.raw_submissions
    await session.execute(
        raws.update().where(raws.c.id == submission_id).values(status="received", updated_at=now)
    )
