"""Normalisation off the event loop, with a time limit: language identification and the
category rules are CPU work (and the fastText model loads on first use), so they run in a
worker thread; when they take longer than the limit the complaint is registered without them, with
a note in its classification, rather than making the request wait."""

from __future__ import annotations

import asyncio

import structlog

from intake_service.classification.service import current_rulebook
from intake_service.complaints.model import ComplaintDraft
from intake_service.config import DEFAULT_POLICY
from intake_service.normalisation import model

log = structlog.get_logger(__name__)


# Below this many characters of text (subject, body, reply, extra text together) enrichment
# runs on the event loop: it is linear in the text (linear patterns, one Aho-Corasick pass,
# CLD2 and fastText), measured at about 0.1 ms for 300 characters (README, "Languages"), far
# less than a request's round trips, and less than the hop to a worker thread and back costs
# on a busy loop. Larger texts (up to ENRICH_TEXT_CHARS) go to a thread.
INLINE_TEXT_CHARS = 1024
# Inline runs only when the time limit is well above the worst inline cost, so the limit
# always holds (a limit below this takes the thread path, which enforces it).
INLINE_WORST_SECONDS = 0.05


def _text_chars(draft: ComplaintDraft, extra_text: str | None) -> int:
    parts = (draft.subject, draft.body, draft.reply_text, extra_text)
    return sum(len(part) for part in parts if part)


async def normalise(
    draft: ComplaintDraft,
    extra_text: str | None = None,
    time_limit: float = DEFAULT_POLICY.parse_time_limit,
) -> ComplaintDraft:
    """``draft`` enriched (language, category, priority hint, references) in a worker thread;
    ``extra_text`` counts for category and references only (see :func:`model.enrich`).
    Over ``time_limit`` seconds the draft is returned unenriched (:func:`model.not_enriched`).
    """
    if (
        time_limit >= INLINE_WORST_SECONDS
        and model.models_loaded()
        and _text_chars(draft, extra_text) <= INLINE_TEXT_CHARS
    ):
        # Small enough to be cheaper here than the hop to a worker thread and back.
        return model.enrich(draft, extra_text, current_rulebook())
    try:
        return await asyncio.wait_for(
            asyncio.to_thread(model.enrich, draft, extra_text, current_rulebook()), time_limit
        )
    except TimeoutError:
        # The thread cannot be stopped; its input is bounded (ENRICH_TEXT_CHARS), so it ends.
        note = f"enrichment took longer than {time_limit:g} s and was skipped"
        log.warning("enrichment_skipped", channel=draft.channel, reason=note)
        return model.not_enriched(draft, note)


async def load_language_models() -> None:
    """Load the language models in a worker thread, so no request waits for them."""
    await asyncio.to_thread(model.warm_up)
