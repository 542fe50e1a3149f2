"""SQL of the classification rules: a desk's rules per language and their history."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Row, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from intake_service import tables

rules_table = tables.classification_rules
changes = tables.classification_rule_changes


async def versions(session: AsyncSession) -> dict[str, int]:
    """The version of every language's desk rules (cheap: what replicas poll)."""
    rows = await session.execute(select(rules_table.c.language, rules_table.c.version))
    return {row.language: row.version for row in rows}


async def all_rules(session: AsyncSession) -> list[Row]:
    """Every language's desk rules."""
    return list(await session.execute(select(rules_table)))


async def lock_language(session: AsyncSession, language: str) -> None:
    """Serialise writers of one language's rules until the transaction ends (the first
    write of a language has no row to lock yet)."""
    key = func.hashtext(f"intake.classification_rules:{language}")
    await session.execute(select(func.pg_advisory_xact_lock(key)))


async def rules_of(session: AsyncSession, language: str, lock: bool = False) -> Row | None:
    """One language's desk rules (locked for an update when ``lock``)."""
    query = select(rules_table).where(rules_table.c.language == language)
    if lock:
        query = query.with_for_update()
    return (await session.execute(query)).one_or_none()


async def save_rules(
    session: AsyncSession,
    language: str,
    document: dict,
    version: int,
    now: datetime,
    actor: str,
    exists: bool,
) -> None:
    """Store ``document`` as ``language``'s rules at ``version``, and the change in history."""
    values = {"rules": document, "version": version, "updated_at": now, "updated_by": actor}
    if exists:
        await session.execute(
            update(rules_table).where(rules_table.c.language == language).values(**values)
        )
    else:
        await session.execute(insert(rules_table).values(language=language, **values))
    await session.execute(
        insert(changes).values(
            language=language, version=version, rules=document, changed_at=now, changed_by=actor
        )
    )


async def history(session: AsyncSession, language: str, limit: int) -> list[Row]:
    """The latest changes of ``language``'s rules, newest first."""
    query = (
        select(changes)
        .where(changes.c.language == language)
        .order_by(changes.c.version.desc())
        .limit(limit)
    )
    return list(await session.execute(query))
