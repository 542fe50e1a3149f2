"""Classification rules use cases: read and replace a desk's rules per language, and keep
this process's compiled rulebook current.

Every intake replica classifies with a compiled :class:`~.model.Rulebook` held in memory (a
complaint never waits for the database to learn the rules). A replica that changes rules
rebuilds its own at once; every replica polls the rules' versions (one small query) every
``intake_rules_refresh_seconds`` and rebuilds when one changed, so a change applies to the
complaints every replica registers after that interval.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import structlog
from redress_shared.clock import Clock
from redress_shared.db import SessionFactory
from redress_shared.faults import is_transient

from intake_service.classification import model, store

log = structlog.get_logger(__name__)


class RulebookCache:
    """The rulebook a process classifies with, and the rule versions it was built from."""

    def __init__(self) -> None:
        self.rulebook: model.Rulebook = model.built_in_rulebook()
        self.versions: dict[str, int] = {}
        self.lock = asyncio.Lock()


CURRENT = RulebookCache()
"""This process's rulebook (what :func:`current_rulebook` answers)."""


def current_rulebook() -> model.Rulebook:
    """The rules complaints are classified with now in this process."""
    return CURRENT.rulebook


def _desk_rules(row) -> model.DeskRules:
    # Stored rules were checked when written; loading them trusts them (a limit tightened
    # later must not stop a replica from starting).
    document = row.rules
    return model.DeskRules(
        language=row.language,
        categories={name: tuple(words) for name, words in document["categories"].items()},
        signals={name: tuple(words) for name, words in document["signals"].items()},
        disabled=tuple(document["disabled"]),
        version=row.version,
    )


async def refresh_rules(session_factory: SessionFactory, cache: RulebookCache = CURRENT) -> bool:
    """Rebuild ``cache``'s rulebook if any language's rules changed; True if it did."""
    async with cache.lock:
        async with session_factory() as session:
            versions = await store.versions(session)
            if versions == cache.versions:
                return False
            rows = await store.all_rules(session)
        desk = [_desk_rules(row) for row in rows]
        # Compiling a few thousand keywords takes milliseconds: off the event loop anyway.
        cache.rulebook = await asyncio.to_thread(model.rulebook, desk)
        cache.versions = {row.language: row.version for row in rows}
        log.info("classification_rules_loaded", versions=cache.versions)
        return True


async def keep_rules_current(session_factory: SessionFactory, interval: float) -> None:
    """Refresh this process's rulebook every ``interval`` seconds, for ever."""
    while True:
        try:
            await refresh_rules(session_factory)
        except Exception as error:  # noqa: BLE001 - the loop must outlive any one failure
            if not is_transient(error):
                log.exception("classification_rules_refresh_failed")
            else:
                log.warning("classification_rules_refresh_postponed", error=str(error))
        await asyncio.sleep(interval)


@dataclass(frozen=True)
class RulesView:
    """One language's rules: built in, the desk's changes and what applies."""

    language: str
    version: int
    built_in: model.LanguageRules | None
    desk: model.DeskRules
    effective: model.LanguageRules
    updated_at: datetime | None
    updated_by: str | None


def _view(language: str, row) -> RulesView:
    desk = _desk_rules(row) if row else model.DeskRules(language)
    built_in = model.built_in_rules().get(language)
    return RulesView(
        language=language,
        version=desk.version,
        built_in=built_in,
        desk=desk,
        effective=model.apply_desk_rules(built_in, desk),
        updated_at=row.updated_at if row else None,
        updated_by=row.updated_by if row else None,
    )


async def list_rules(session_factory: SessionFactory) -> list[RulesView]:
    """Every language that has built-in tables or desk rules."""
    async with session_factory() as session:
        rows = {row.language: row for row in await store.all_rules(session)}
    languages = sorted(set(model.built_in_rules()) | set(rows))
    return [_view(language, rows.get(language)) for language in languages]


async def read_rules(session_factory: SessionFactory, language: str) -> RulesView:
    """One language's rules (version 0 and no desk changes when the desk made none)."""
    model.desk_rules(language, {}, {}, ())  # the language code is checked like on a write
    async with session_factory() as session:
        return _view(language, await store.rules_of(session, language))


async def replace_rules(
    session_factory: SessionFactory,
    clock: Clock,
    language: str,
    categories: dict[str, Iterable[str]],
    signals: dict[str, Iterable[str]],
    disabled: Iterable[str],
    expected_version: int | None,
    actor: str,
) -> RulesView:
    """Replace the desk's rules for ``language`` (one transaction, audited); this process
    classifies with them at once, the other replicas within their refresh interval."""
    async with session_factory() as session, session.begin():
        await store.lock_language(session, language)
        row = await store.rules_of(session, language, lock=True)
        current = row.version if row else 0
        model.check_version(expected_version, current)
        rules = model.desk_rules(language, categories, signals, disabled, current + 1)
        await store.save_rules(
            session, language, rules.document(), rules.version, clock.now(), actor, bool(row)
        )
    await refresh_rules(session_factory)
    async with session_factory() as session:
        return _view(language, await store.rules_of(session, language))


async def rules_history(session_factory: SessionFactory, language: str, limit: int) -> list:
    """The latest changes of ``language``'s rules, newest first."""
    async with session_factory() as session:
        return await store.history(session, language, limit)
