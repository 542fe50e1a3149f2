"""The built-in message texts: seeded into the template store as version 1 of each kind and
language when the service starts (never over an operator's edit), and the fallback while the
store has no text of its own for a language.

The texts are data, one TOML file per language in ``built_in/`` (shipped in the wheel), so a
translator edits one file and needs no Python: each file has a ``greeting`` and a
``signature`` (put around every body) and one table per kind of message with its ``subject``
and ``body``, Jinja2 like any template (see README, *Customer messages*). English has every
kind; a test checks that every language has every kind and every variable English uses.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable
from importlib import resources

from notification_service.locales.model import FALLBACK_LANGUAGE, TAG_PATTERN
from notification_service.templates.model import (
    BUILT_IN_AUTHOR,
    KINDS,
    StoredTemplate,
    TemplateText,
)

TEXTS_PACKAGE = "notification_service.templates"
TEXTS_FOLDER = "built_in"


def _language_texts(document: dict) -> dict[str, TemplateText]:
    """The texts of one language file, by kind, with greeting and signature around bodies."""
    greeting, signature = document["greeting"].strip(), document["signature"].strip()
    return {
        kind: TemplateText(
            subject=" ".join(text["subject"].split()),
            body_text=f"{greeting}\n\n{text['body'].strip()}\n\n{signature}\n",
        )
        for kind, text in document.items()
        if kind in KINDS
    }


def load_built_in() -> dict[str, dict[str, TemplateText]]:
    """Every built-in text, by kind and language (the file's name is the language tag)."""
    texts: dict[str, dict[str, TemplateText]] = {kind: {} for kind in KINDS}
    folder = resources.files(TEXTS_PACKAGE) / TEXTS_FOLDER
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        language = entry.name.removesuffix(".toml")
        if not entry.name.endswith(".toml") or not TAG_PATTERN.match(language):
            continue
        for kind, text in _language_texts(tomllib.loads(entry.read_text("utf-8"))).items():
            texts[kind][language] = text
    return texts


BUILT_IN: dict[str, dict[str, TemplateText]] = load_built_in()


def built_in(kind: str, candidates: Iterable[str]) -> StoredTemplate:
    """The built-in text of ``kind`` (version 1) in the first of ``candidates`` that has one,
    else in English: what a message falls back to when the store has none of its own or a
    stored template fails to render."""
    texts = BUILT_IN[kind]
    language = next((c for c in candidates if c in texts), FALLBACK_LANGUAGE)
    return StoredTemplate(kind, language, 1, texts[language], None, BUILT_IN_AUTHOR)
