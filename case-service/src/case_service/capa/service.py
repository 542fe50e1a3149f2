"""Corrective-action use cases: create by hand or from an analytics alert, link cases,
move through the statuses, close with the effect, and the reads."""

from __future__ import annotations

import uuid
from datetime import date

import structlog
from redress_shared.clock import Clock
from redress_shared.db import SessionFactory
from redress_shared.errors import NotFound
from redress_shared.events import AlertV1, EventEnvelope
from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncSession

from case_service.capa import store
from case_service.capa.model import (
    CLOSED_STATUSES,
    CapaStatus,
    UnknownCase,
    alert_action_title,
    check_capa_change,
)

log = structlog.get_logger(__name__)
ALERT_ACTOR = "analytics-alert"
SUPPLIER_DEFECTS = "supplier_defects"


async def _link(session: AsyncSession, action_id: uuid.UUID, case_ids: list[uuid.UUID]) -> None:
    """Link the cases to the action; UnknownCase (nothing linked) if one does not exist."""
    if not case_ids:
        return
    known = await store.existing_case_ids(session, case_ids)
    unknown = sorted(str(c) for c in set(case_ids) - known)
    if unknown:
        raise UnknownCase(unknown)
    await store.link_cases(session, action_id, known)


async def create_action(
    session_factory: SessionFactory,
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
) -> tuple[Row, list[uuid.UUID]]:
    """Open a corrective action, linked to the cases that prompted it; return it as read."""
    now = clock.now()
    action_id = uuid.uuid4()
    async with session_factory() as session, session.begin():
        await store.insert_action(
            session,
            {
                "id": action_id,
                "title": title,
                "description": description,
                "owner": owner,
                "due_date": due_date,
                "status": CapaStatus.OPEN.value,
                "supplier": supplier,
                "product": product,
                "created_by": created_by,
                "created_at": now,
                "updated_at": now,
            },
        )
        await _link(session, action_id, case_ids)
    return await get_action(session_factory, action_id)


async def action_from_alert(session: AsyncSession, clock: Clock, event: EventEnvelope) -> None:
    """An alert was raised: open one corrective action for it (once), linked to the cases of
    that supplier in the alert's period."""
    alert = event.payload()
    assert isinstance(alert, AlertV1)
    now = clock.now()
    supplier_alert = alert.kind == SUPPLIER_DEFECTS
    created = await store.insert_action_for_alert(
        session,
        {
            "id": uuid.uuid4(),
            "title": alert_action_title(alert.kind, alert.subject, alert.attribution),
            "description": (
                f"{alert.count} upheld complaints between {alert.period_start} and "
                f"{alert.period_end} (threshold {alert.threshold}). Raised by analytics alert "
                f"{alert.alert_id}."
            ),
            "status": CapaStatus.OPEN.value,
            "supplier": alert.subject if supplier_alert else None,
            "source_alert_id": alert.alert_id,
            "created_by": ALERT_ACTOR,
            "created_at": now,
            "updated_at": now,
        },
    )
    if created is None or not supplier_alert:
        return
    linked = await store.supplier_case_ids(
        session, alert.subject, alert.period_start, alert.period_end
    )
    await _link(session, created, linked)
    log.info(
        "corrective_action_opened",
        action_id=str(created),
        alert_id=str(alert.alert_id),
        cases=len(linked),
    )


async def update_action(
    session_factory: SessionFactory,
    clock: Clock,
    action_id: uuid.UUID,
    *,
    changes: dict,
    add_case_ids: list[uuid.UUID],
) -> tuple[Row, list[uuid.UUID]]:
    """Change owner, due date, description or status (closing needs the effect); return the
    action as read."""
    now = clock.now()
    async with session_factory() as session, session.begin():
        row = await store.get_action(session, action_id, lock=True)
        if row is None:
            raise NotFound("corrective action", action_id)
        status = CapaStatus(changes.get("status") or row.status)
        check_capa_change(CapaStatus(row.status), status, changes.get("effect", row.effect))
        values = {**changes, "status": status.value, "updated_at": now}
        if status in CLOSED_STATUSES and row.closed_at is None:
            values["closed_at"] = now
        await store.update_action(session, action_id, values)
        await _link(session, action_id, add_case_ids)
    return await get_action(session_factory, action_id)


async def get_action(
    session_factory: SessionFactory, action_id: uuid.UUID
) -> tuple[Row, list[uuid.UUID]]:
    """One corrective action and its linked case ids."""
    async with session_factory() as session:
        row = await store.get_action(session, action_id)
        if row is None:
            raise NotFound("corrective action", action_id)
        return row, await store.linked_case_ids(session, action_id)


async def list_actions(
    session_factory: SessionFactory, status: str | None, supplier: str | None
) -> list[tuple[Row, list[uuid.UUID]]]:
    """Corrective actions, newest first, each with its linked case ids."""
    async with session_factory() as session:
        rows = await store.list_actions(session, status, supplier)
        return [(row, await store.linked_case_ids(session, row.id)) for row in rows]
