"""Normalisation shared by every channel: detected language, category, priority hint and
references pulled from the text. Pure (no I/O); CPU-bound language detection included."""

from __future__ import annotations

import dataclasses

from intake_service.categories import classify, extract_order_ref, extract_sku
from intake_service.language import detect_language
from intake_service.models import ComplaintDraft


def enrich(draft: ComplaintDraft, extra_text: str | None = None) -> ComplaintDraft:
    """``draft`` with the detected language, category, priority hint and references filled in.

    What the submitter gave explicitly wins over what the text suggests (category, order
    number, product). The detected ``language`` is the language of the text; the customer's
    declared language stays on the customer and is the fallback when detection is unsure.
    ``extra_text`` (e.g. a call agent's notes) counts for category and references, not for
    the language, which is the customer's.
    """
    text = "\n".join(part for part in (draft.subject, draft.body, extra_text) if part)
    classification = classify(text, draft.category)
    product = draft.product
    if not (product and product.get("sku")):
        sku = extract_sku(text)
        if sku:
            product = {**(product or {}), "sku": sku}
    hint = _max_priority(draft.priority_hint, classification.priority_hint)
    return dataclasses.replace(
        draft,
        language=detect_language(draft.body) or draft.language or draft.customer.language,
        category=classification.category,
        priority_hint=hint,
        order_ref=draft.order_ref or extract_order_ref(text),
        product=product,
        classification=classification.document(),
        # A reply's quoted history is ours (often another language): its own words decide.
        reply_language=detect_language(draft.reply_text) if draft.reply_text else None,
    )


_PRIORITY_RANK = {"high": 1, "urgent": 2}


def _max_priority(a: str | None, b: str | None) -> str | None:
    return max(a, b, key=lambda hint: _PRIORITY_RANK.get(hint or "", 0))
