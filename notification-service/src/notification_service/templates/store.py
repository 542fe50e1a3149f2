"""SQL of the template store: every version of every template, the highest one in use."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from redress_shared.db import Prepared
from sqlalchemy import ARRAY, Row, Select, Text, any_, bindparam, cast, func, select, tuple_
from sqlalchemy.dialects.postgresql import distinct_on, insert
from sqlalchemy.ext.asyncio import AsyncSession

from notification_service import tables
from notification_service.templates.model import StoredTemplate, TemplateText


def _stored(row: Row) -> StoredTemplate:
    return _stored_from(row._mapping)


def _stored_from(columns: Mapping[str, Any]) -> StoredTemplate:
    return StoredTemplate(
        columns["kind"],
        columns["language"],
        columns["version"],
        TemplateText(columns["subject"], columns["body_text"], columns["body_html"]),
        columns["created_at"],
        columns["created_by"],
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
    """The current version of ``kind`` in each of ``languages`` that has one, by language
    (prepared once: the consumer looks templates up in every batch)."""
    rows = await _CURRENT_IN.fetch(session, kind=kind, languages=languages)
    return {row["language"]: _stored_from(row) for row in rows}


def _current_in_statement() -> Prepared:
    """The highest version of one kind in some languages: a walk of the primary key's index
    (kind, language, version) per language, not a grouping of every template."""
    versions = tables.template_versions
    languages = cast(bindparam("languages", type_=ARRAY(Text())), ARRAY(Text()))
    return Prepared(
        select(versions)
        .where(
            versions.c.kind == bindparam("kind", type_=Text()),
            versions.c.language == any_(languages),
        )
        .ext(distinct_on(versions.c.language))
        .order_by(versions.c.language, versions.c.version.desc())
    )


_CURRENT_IN = _current_in_statement()


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
