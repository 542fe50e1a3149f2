"""SQL of the template store: every version of every template, the highest one in use."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Row, Select, func, select, tuple_
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from notification_service import tables
from notification_service.templates.model import StoredTemplate, TemplateText


def _stored(row: Row) -> StoredTemplate:
    return StoredTemplate(
        row.kind,
        row.language,
        row.version,
        TemplateText(row.subject, row.body_text, row.body_html),
        row.created_at,
        row.created_by,
    )


def _current_versions() -> Select:
    """The highest version of each template."""
    versions = tables.template_versions
    latest = select(versions.c.kind, versions.c.language, func.max(versions.c.version)).group_by(
        versions.c.kind, versions.c.language
    )
    return (
        select(versions)
        .where(tuple_(versions.c.kind, versions.c.language, versions.c.version).in_(latest))
        .order_by(versions.c.kind, versions.c.language)
    )


async def insert_first_versions(session: AsyncSession, rows: list[dict]) -> int:
    """Store each row as version 1 where there is none yet; return how many were new."""
    result = await session.execute(
        insert(tables.template_versions).values(rows).on_conflict_do_nothing()
    )
    return result.rowcount


async def current(session: AsyncSession) -> list[StoredTemplate]:
    """The current version of every template."""
    return [_stored(row) for row in (await session.execute(_current_versions())).all()]


async def current_in(
    session: AsyncSession, kind: str, languages: list[str]
) -> dict[str, StoredTemplate]:
    """The current version of ``kind`` in each of ``languages`` that has one, by language."""
    versions = tables.template_versions
    query = _current_versions().where(versions.c.kind == kind, versions.c.language.in_(languages))
    return {row.language: _stored(row) for row in (await session.execute(query)).all()}


async def insert_next_version(
    session: AsyncSession,
    kind: str,
    language: str,
    text: TemplateText,
    created_at: datetime,
    author: str,
) -> StoredTemplate:
    """Store ``text`` as the next version of the template (its first, for a new language)."""
    versions = tables.template_versions
    # One writer per template at a time, also for a language that has no row yet.
    await session.execute(
        select(func.pg_advisory_xact_lock(func.hashtext(f"template:{kind}:{language}")))
    )
    latest = await session.scalar(
        select(func.max(versions.c.version)).where(
            versions.c.kind == kind, versions.c.language == language
        )
    )
    row = (
        await session.execute(
            insert(versions)
            .values(
                kind=kind,
                language=language,
                version=(latest or 0) + 1,
                subject=text.subject,
                body_text=text.body_text,
                body_html=text.body_html,
                created_at=created_at,
                created_by=author,
            )
            .returning(versions)
        )
    ).one()
    return _stored(row)
