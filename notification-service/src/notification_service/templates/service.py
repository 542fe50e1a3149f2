"""Template use cases: seed the built-in texts, read templates, store an operator's edit; and
the template a message is rendered from (inside the planning transaction)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass

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


@dataclass(frozen=True)
class RenderJob:
    """A message to render: ``template`` of ``kind`` with the variables ``values_in`` writes
    for a language; ``candidates`` are the languages of the built-in text it falls back to."""

    kind: str
    template: StoredTemplate
    candidates: tuple[str, ...]
    values_in: Callable[[str], dict]


@dataclass(frozen=True)
class Rendered:
    """A rendered message and the template it came from (the built-in text when the desk's
    failed to render, ``error`` saying why)."""

    message: RenderedMessage
    template: StoredTemplate
    error: str | None = None

    def fields(self) -> dict:
        """The columns of a queued message this render fills."""
        return {
            "template_version": self.template.version,
            "language": self.template.language,
            "subject": self.message.subject,
            "body_text": self.message.body_text,
            "body_html": self.message.body_html,
        }


async def render_messages(jobs: Sequence[RenderJob]) -> list[Rendered]:
    """Render messages in one worker thread, off the event loop, each within the sandbox's
    limits (one hand-over to the thread per batch: per message, the hand-over cost more than
    the render). A template that fails to render (a branch its trials did not take, a limit
    broken by real data) gives way to the built-in text, and the failure is reported."""
    if not jobs:
        return []
    try:
        # The sandbox stops each render at its limit; this is the backstop for the batch.
        wait = RENDER_WAIT_SECONDS + len(jobs) * RENDER_TIME_LIMIT_SECONDS
        results = await _off_the_loop(_render_all, jobs, wait=wait)
    except TemplateLimitExceeded as exc:
        if len(jobs) > 1:
            raise  # the consumer applies the batch again one event at a time
        job = jobs[0]
        fallback = built_in(job.kind, [job.template.language, *job.candidates])
        message = await _off_the_loop(
            render, job.kind, fallback.language, fallback.text, job.values_in(fallback.language)
        )
        results = [Rendered(message, fallback, repr(exc))]
    for job, result in zip(jobs, results, strict=True):
        if result.error is not None:
            log.error(
                "template_render_failed",
                kind=job.kind,
                language=job.template.language,
                version=job.template.version,
                error=result.error,
            )
    return results


def _render_all(jobs: Sequence[RenderJob]) -> list[Rendered]:
    results = []
    for job in jobs:
        template = job.template
        try:
            values = job.values_in(template.language)
            message = render(job.kind, template.language, template.text, values)
            results.append(Rendered(message, template))
        except Exception as exc:  # noqa: BLE001  reported by render_messages
            fallback = built_in(job.kind, [template.language, *job.candidates])
            values = job.values_in(fallback.language)
            message = render(job.kind, fallback.language, fallback.text, values)
            results.append(Rendered(message, fallback, repr(exc)))
    return results


async def _off_the_loop(function, *args, wait: float = RENDER_WAIT_SECONDS):  # noqa: ANN001, ANN002, ANN202
    try:
        async with asyncio.timeout(wait):
            return await asyncio.to_thread(function, *args)
    except TimeoutError as exc:
        raise TemplateLimitExceeded("template", f"not rendered within {wait:g} s") from exc
