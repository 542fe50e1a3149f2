"""Normalisation off the event loop: language detection is CPU work and loads its models
on first use, so no request should run it on the loop."""

from __future__ import annotations

import asyncio

from intake_service.complaints.model import ComplaintDraft
from intake_service.normalisation import model


async def normalise(draft: ComplaintDraft, extra_text: str | None = None) -> ComplaintDraft:
    """``draft`` enriched (language, category, priority hint, references) in a worker thread;
    ``extra_text`` counts for category and references only (see :func:`model.enrich`)."""
    return await asyncio.to_thread(model.enrich, draft, extra_text)


async def load_language_models() -> None:
    """Load the language models in a worker thread, so no request waits for them."""
    await asyncio.to_thread(model.warm_up)
