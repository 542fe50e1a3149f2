"""Template use cases: seed the built-in texts, read templates, store an operator's edit; and
the template a message is rendered from (inside the planning transaction)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import structlog
from redress_shared.clock import Clock
from redress_shared.db import SessionFactory
from redress_shared.errors import NotFound
from sqlalchemy.ext.asyncio import AsyncSession

from notification_service.templates import store
from notification_service.templates.default_templates import BUILT_IN, built_in
from notification_service.templates.model import (
    BUILT_IN_AUTHOR,
    RENDER_TIME_LIMIT_SECONDS,
    RenderedMessage,
    StoredTemplate,
    TemplateLimitExceeded,
    TemplateText,
    check_kind_and_language,
    render,
    validate,
)

#: How long a caller waits for a render (or a save's trial renders) in its worker thread;
#: the sandbox itself stops a render at RENDER_TIME_LIMIT_SECONDS, so this is a backstop.
RENDER_WAIT_SECONDS = 3 * RENDER_TIME_LIMIT_SECONDS

log = structlog.get_logger(__name__)


async def seed_templates(session_factory: SessionFactory, clock: Clock) -> int:
    """Store each built-in text as version 1 of its kind and language, where there is no
    version 1 yet: an operator's edit (version 2 and later) is never overwritten."""
    now = clock.now()
    rows = [
        {
            "kind": kind,
            "language": language,
            "version": 1,
            "subject": text.subject,
            "body_text": text.body_text,
            "body_html": text.body_html,
            "created_at": now,
            "created_by": BUILT_IN_AUTHOR,
        }
        for kind, languages in BUILT_IN.items()
        for language, text in languages.items()
    ]
    async with session_factory() as session, session.begin():
        return await store.insert_first_versions(session, rows)


async def template_for(
    session: AsyncSession, kind: str, candidates: Sequence[str]
) -> StoredTemplate:
    """In the caller's transaction: the template of ``kind`` in the first of ``candidates``
    (``locales.model.language_candidates``: the customer's language, the desk's default,
    English) that has one: the desk's current version, else the built-in text (version 1)."""
    stored = await store.current_in(session, kind, list(candidates))
    for candidate in candidates:
        if candidate in stored:
            return stored[candidate]
        if candidate in BUILT_IN[kind]:
            return built_in(kind, [candidate])
    return built_in(kind, candidates)


async def list_templates(session_factory: SessionFactory) -> list[StoredTemplate]:
    """The current version of every template."""
    async with session_factory() as session:
        return await store.current(session)


async def get_template(session_factory: SessionFactory, kind: str, language: str) -> StoredTemplate:
    """The current version of one template; NotFound when it has none."""
    check_kind_and_language(kind, language)
    async with session_factory() as session:
        found = await store.current_in(session, kind, [language])
    if language not in found:
        raise NotFound("template", f"{kind}/{language}")
    return found[language]


async def put_template(
    session_factory: SessionFactory,
    clock: Clock,
    kind: str,
    language: str,
    text: TemplateText,
    author: str,
) -> StoredTemplate:
    """Store ``text`` as the next version of the template (or its first, for a new language).

    Checked before anything is written (syntax, no Python internals, only the kind's
    variables, a trial render); messages already queued keep the version they were
    rendered from.
    """
    check_kind_and_language(kind, language)
    await _off_the_loop(validate, kind, text)
    async with session_factory() as session, session.begin():
        stored = await store.insert_next_version(session, kind, language, text, clock.now(), author)
    log.info("template_changed", kind=kind, language=language, version=stored.version)
    return stored


async def render_message(kind: str, template: StoredTemplate, values: dict) -> RenderedMessage:
    """Render a message from ``template`` in a worker thread, off the event loop, within the
    sandbox's limits (raises TemplateLimitExceeded or the render's own error)."""
    return await _off_the_loop(render, kind, template.language, template.text, values)


async def _off_the_loop(function, *args):  # noqa: ANN001, ANN002, ANN202
    try:
        async with asyncio.timeout(RENDER_WAIT_SECONDS):
            return await asyncio.to_thread(function, *args)
    except TimeoutError as exc:
        raise TemplateLimitExceeded(
            "template", f"not rendered within {RENDER_WAIT_SECONDS:g} s"
        ) from exc
