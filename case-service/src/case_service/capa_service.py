"""Corrective-action use cases: create by hand or from an analytics alert, link cases,
move through the statuses, close with the effect."""

from __future__ import annotations

import uuid
from datetime import date

import structlog
from redress_shared.clock import Clock
from redress_shared.db import SessionFactory
from redress_shared.errors import NotFound, Problem
from redress_shared.events import AlertV1, EventEnvelope
from sqlalchemy import Row, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from case_service import tables
from case_service.capa import CapaStatus, InvalidCapaChange, check_capa_change

log = structlog.get_logger(__name__)


async def _link(session: AsyncSession, action_id: uuid.UUID, case_ids: list[uuid.UUID]) -> None:
    if not case_ids:
        return
    known = set(
        await session.scalars(select(tables.cases.c.id).where(tables.cases.c.id.in_(case_ids)))
    )
    unknown = sorted(str(c) for c in set(case_ids) - known)
    if unknown:
        raise Problem(422, "unknown-case", "Unknown case", f"No case with id {', '.join(unknown)}")
    await session.execute(
        insert(tables.corrective_action_cases)
        .values([{"action_id": action_id, "case_id": case_id} for case_id in known])
        .on_conflict_do_nothing()
    )


async def create_action(
    sessions: SessionFactory,
    clock: Clock,
    *,
    title: str,
    description: str | None,
    owner: str | None,
    due_date: date | None,
    supplier: str | None,
    product: str | None,
    case_ids: list[uuid.UUID],
    created_by: str,
) -> uuid.UUID:
    """Open a corrective action, linked to the cases that prompted it."""
    now = clock.now()
    action_id = uuid.uuid4()
    async with sessions() as session, session.begin():
        await session.execute(
            tables.corrective_actions.insert().values(
                id=action_id,
                title=title,
                description=description,
                owner=owner,
                due_date=due_date,
                status=CapaStatus.OPEN.value,
                supplier=supplier,
                product=product,
                created_by=created_by,
                created_at=now,
                updated_at=now,
            )
        )
        await _link(session, action_id, case_ids)
    return action_id


async def action_from_alert(session: AsyncSession, clock: Clock, event: EventEnvelope) -> None:
    """An alert was raised: open one corrective action for it (once), linked to the cases of
    that supplier in the alert's period."""
    alert = event.payload()
    assert isinstance(alert, AlertV1)
    now = clock.now()
    action_id = uuid.uuid4()
    created = await session.scalar(
        insert(tables.corrective_actions)
        .values(
            id=action_id,
            title=f"{alert.kind.replace('_', ' ').capitalize()}: {alert.subject}"
            + (f" ({alert.attribution.replace('_', ' ')})" if alert.attribution else ""),
            description=(
                f"{alert.count} upheld complaints between {alert.period_start} and "
                f"{alert.period_end} (threshold {alert.threshold}). Raised by analytics alert "
                f"{alert.alert_id}."
            ),
            status=CapaStatus.OPEN.value,
            supplier=alert.subject if alert.kind == "supplier_defects" else None,
            source_alert_id=alert.alert_id,
            created_by="analytics-alert",
            created_at=now,
            updated_at=now,
        )
        .on_conflict_do_nothing(index_elements=["source_alert_id"])
        .returning(tables.corrective_actions.c.id)
    )
    if created is None or alert.kind != "supplier_defects":
        return
    cases = tables.cases
    linked = list(
        await session.scalars(
            select(cases.c.id).where(
                cases.c.supplier == alert.subject,
                cases.c.received_at >= alert.period_start,
                cases.c.received_at < alert.period_end,
            )
        )
    )
    await _link(session, created, linked)
    log.info(
        "corrective_action_opened",
        action_id=str(created),
        alert_id=str(alert.alert_id),
        cases=len(linked),
    )


async def update_action(
    sessions: SessionFactory,
    clock: Clock,
    action_id: uuid.UUID,
    *,
    changes: dict,
    add_case_ids: list[uuid.UUID],
) -> None:
    """Change owner, due date, description or status; closing needs the effect."""
    actions = tables.corrective_actions
    now = clock.now()
    async with sessions() as session, session.begin():
        row = (
            await session.execute(
                select(actions).where(actions.c.id == action_id).with_for_update()
            )
        ).first()
        if row is None:
            raise NotFound("corrective action", action_id)
        status = CapaStatus(changes.get("status") or row.status)
        effect = changes.get("effect", row.effect)
        try:
            check_capa_change(CapaStatus(row.status), status, effect)
        except InvalidCapaChange as exc:
            raise Problem(
                409, "illegal-capa-change", "Not allowed for this corrective action", str(exc)
            ) from exc
        values = {**changes, "status": status.value, "updated_at": now}
        if status in (CapaStatus.DONE, CapaStatus.CANCELLED) and row.closed_at is None:
            values["closed_at"] = now
        await session.execute(actions.update().where(actions.c.id == action_id).values(**values))
        await _link(session, action_id, add_case_ids)


async def get_action(sessions: SessionFactory, action_id: uuid.UUID) -> tuple[Row, list[uuid.UUID]]:
    """One corrective action and its linked case ids."""
    async with sessions() as session:
        row = (
            await session.execute(
                select(tables.corrective_actions).where(tables.corrective_actions.c.id == action_id)
            )
        ).first()
        if row is None:
            raise NotFound("corrective action", action_id)
        links = tables.corrective_action_cases
        case_ids = list(
            await session.scalars(select(links.c.case_id).where(links.c.action_id == action_id))
        )
    return row, case_ids


async def list_actions(
    sessions: SessionFactory, status: str | None, supplier: str | None
) -> list[Row]:
    """Corrective actions, newest first."""
    actions = tables.corrective_actions
    query = select(actions).order_by(actions.c.created_at.desc(), actions.c.id)
    if status:
        query = query.where(actions.c.status == status)
    if supplier:
        query = query.where(actions.c.supplier == supplier)
    async with sessions() as session:
        return list((await session.execute(query)).all())
