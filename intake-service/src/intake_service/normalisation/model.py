"""Normalisation shared by every channel, pure (no I/O): the text's language, the category
and priority hint, and the references (order number, product code) pulled from the text.

Categories and priority hints
=============================
How a category is chosen
------------------------
* A category given explicitly by the submitter always wins.
* Otherwise every rule below is matched against the subject and text, in every language at
  once (complaints mix languages, and detection can be unsure on short texts; the stems
  rarely collide across languages). Each matching pattern scores one point for its
  category; the highest score wins, and a tie goes to the category listed first in
  :data:`PRECEDENCE` (the more specific and more urgent one; ``product_defect`` is the
  generic "it does not work" and comes last).
* No match: no category (the case service triages it as normal).

Priority hints
--------------
* ``urgent``: an outage or a safety hazard (the practice: outages first, they hit many).
* ``high``: a legal threat (lawyer, court, consumer-protection authority), whatever the
  category.
The hint travels in the event; the case service decides the priority.

Patterns are Python regular expressions, matched case-insensitively as whole words
(``(?<!\\w)`` before and ``(?!\\w)`` after), so a stem needs an explicit ``\\w*``.
Languages covered: English (en), Latvian (lv), Persian (fa), Romanian (ro), Slovenian (sl).
To add a language, add its patterns to each category and to :data:`LEGAL_THREAT`.

Language identification
=======================
Offline, with lingua.

Why lingua: it is accurate on short texts (one or two sentences, which is what complaints
often are), needs no network and no model download at run time (its models ship in the
wheel).

Why a fixed set of candidate languages: every candidate costs memory and time; the set
below covers the markets this desk serves (EU languages incl. the Baltic and Balkan ones,
Persian and Arabic for right-to-left scripts, Russian/Ukrainian for Cyrillic). A text in a
language outside the set gets the closest candidate or none; extend the set when a new
market opens. With the high-accuracy models loaded for these 17 languages a process holds
about 400 MB more; the models are loaded lazily on first use, and :func:`warm_up` loads
them in a background thread at start-up so no request pays for it.

Detection is a hint, never a refusal: when the detector is not confident (very short or
mixed text) the answer is ``None`` and the customer's declared language is used instead.
"""

from __future__ import annotations

import dataclasses
import re
import threading
from dataclasses import dataclass, field

from lingua import Language, LanguageDetector, LanguageDetectorBuilder

from intake_service.complaints.model import ComplaintDraft

# Category names are the ones the case service triages on (e.g. ``billing_error`` is high,
# ``outage`` and ``safety`` are urgent there).
PRECEDENCE = (
    "safety",
    "outage",
    "billing_error",
    "delivery",
    "staff_behaviour",
    "product_defect",
)

ZWNJ = "\u200c"  # Persian zero-width non-joiner, optional inside compound verbs

RULES: dict[str, dict[str, tuple[str, ...]]] = {
    "safety": {
        "en": (
            r"caught fire",
            r"on fire",
            r"smok(e|ing)",
            r"electric(al)? shock",
            r"explod\w*",
            r"overheat\w*",
            r"burn(ed|t)",
        ),
        "lv": (r"aizdeg\w*", r"dūm\w*", r"strāvas trieciens?", r"apdedz\w*", r"sprāg\w*"),
        "fa": (r"آتش", r"دود", rf"برق{ZWNJ}?\s*گرفتگی", r"منفجر"),
        "ro": (r"a luat foc", r"fum", r"electrocut\w*", r"explodat", r"s-a supraîncălzit"),
        "sl": (r"zagorel\w*", r"ogenj", r"dim", r"električni udar", r"eksplodiral\w*"),
    },
    "outage": {
        "en": (
            r"outage",
            r"blackout",
            r"(is|are|was|went|been) down",
            r"no (internet|signal|service|power|network|connection|electricity)",
            r"(internet|network|service|website|app|connection) (is )?"
            r"(not working|down|unavailable)",
            r"service interruption",
        ),
        "lv": (
            r"pārtraukum\w*",
            r"traucējum\w*",
            r"nav (interneta|savienojuma|elektrības|signāla|tīkla)",
            r"internet\w* nedarbojas",
            r"tīkls nedarbojas",
        ),
        "fa": (r"قطع", r"خاموشی", r"از دسترس خارج"),
        "ro": (
            r"pană de curent",
            r"întrerupere\w*",
            r"nu (am|avem) (internet|semnal|curent)",
            r"internetul nu (mai )?(merge|funcționează)",
            r"rețeaua (e|este) căzută",
        ),
        "sl": (
            r"izpad\w*",
            r"prekinitev",
            r"motnj\w*",
            r"ni (interneta|signala|elektrike|povezave)",
            r"internet ne deluje",
        ),
    },
    "billing_error": {
        "en": (
            r"invoice\w*",
            r"billed",
            r"billing",
            r"(my|the|your|this) bill",
            r"overcharg\w*",
            r"(double|twice) charg\w*",
            r"charged( me)? twice",
            r"refund\w*",
            r"direct debit",
        ),
        "lv": (r"rēķin\w*", r"maksājum\w*", r"divreiz", r"atmaks\w*", r"pārmaks\w*", r"iekasē\w*"),
        "fa": (r"صورت\s*حساب", r"قبض", r"دو بار", r"کسر شد\w*", r"استرداد", r"بازپرداخت"),
        "ro": (r"factur\w*", r"de două ori", r"rambursar\w*", r"taxat\w*", r"debitat\w*"),
        "sl": (r"račun\w*", r"dvakrat", r"zaračun\w*", r"vračil\w*", r"bremenit\w*"),
    },
    "delivery": {
        "en": (
            r"deliver\w*",
            r"parcel\w*",
            r"package",
            r"courier\w*",
            r"shipp\w*",
            r"shipment",
            r"(never|not|hasn't|has not) (yet )?arrived",
            r"tracking",
        ),
        "lv": (r"piegād\w*", r"sūtījum\w*", r"pak[aui]", r"kurjer\w*", r"neesmu saņēm\w*"),
        "fa": (r"تحویل", r"ارسال", r"بسته", r"نرسید\w*", r"پیک"),
        "ro": (
            r"livr\w*",
            r"colet\w*",
            r"curier\w*",
            r"nu (a|au) (sosit|ajuns)",
            r"nu am primit",
        ),
        "sl": (r"dostav\w*", r"paket\w*", r"pošiljk\w*", r"kurir\w*", r"ni prispel\w*"),
    },
    "staff_behaviour": {
        "en": (
            r"rude\w*",
            r"impolite",
            r"unprofessional",
            r"shouted",
            r"yelled",
            r"insult\w*",
            r"disrespectful",
        ),
        "lv": (r"rupj\w*", r"nepieklājīg\w*", r"kliedz\w*", r"neprofesionāl\w*", r"aizvainoj\w*"),
        "fa": (rf"بی{ZWNJ}?\s*ادب\w*", r"توهین", r"فریاد", r"رفتار"),
        "ro": (r"nepoliticos\w*", r"obraznic\w*", r"a țipat", r"jignit\w*", r"impertinent\w*"),
        "sl": (r"nesramn\w*", r"neprijazn\w*", r"kričal\w*", r"žalil\w*", r"nevljudn\w*"),
    },
    "product_defect": {
        "en": (
            r"broken",
            r"broke",
            r"defect\w*",
            r"faulty",
            r"stopped working",
            r"(doesn't|does not|isn't|is not) work\w*",
            r"damaged",
            r"cracked",
            r"malfunction\w*",
        ),
        "lv": (
            r"salūz\w*",
            r"bojāt\w*",
            r"defekt\w*",
            r"nedarbojas",
            r"pārstāj\w* darboties",
        ),
        "fa": (r"خراب", r"معیوب", r"شکست\w*", rf"کار\s*نمی{ZWNJ}?\s*کن\w*"),
        "ro": (
            r"defect\w*",
            r"stricat\w*",
            r"s-a oprit",
            r"nu (mai )?(funcționează|merge)",
            r"spart\w*",
        ),
        "sl": (r"pokvar\w*", r"okvar\w*", r"ne deluje", r"poškodovan\w*", r"zlomil\w*"),
    },
}

LEGAL_THREAT: dict[str, tuple[str, ...]] = {
    "en": (
        r"lawyer\w*",
        r"attorney",
        r"solicitor\w*",
        r"sue",
        r"court",
        r"legal action",
        r"ombudsman",
        r"small claims",
        r"trading standards",
    ),
    "lv": (r"advokāt\w*", r"tiesā", r"tiesu", r"jurist\w*", r"PTAC"),
    "fa": (r"وکیل", r"دادگاه", r"اقدام قانونی", r"شکایت قانونی"),
    "ro": (r"avocat\w*", r"instanț\w*", r"tribunal\w*", r"ANPC", r"în judecată"),
    "sl": (r"odvetnik\w*", r"sodišč\w*", r"tož\w*", r"inšpekcij\w*", r"inšpektorat\w*"),
}

URGENT_CATEGORIES = frozenset({"outage", "safety"})
MAX_EVIDENCE = 20  # matches kept per category as evidence (all of them count for the score)


def _possessive(pattern: str) -> str:
    """``pattern`` with its ``\\w*`` and ``\\s*`` runs possessive: each is followed by a
    character outside its class (or the end of the word), so giving back never helps a match;
    possessive runs make that explicit and keep a failing match linear."""
    return pattern.replace(r"\w*", r"\w*+").replace(r"\s*", r"\s*+")


def _compile(patterns: tuple[str, ...]) -> re.Pattern[str]:
    # Whole words only: a match starts where no word character precedes, so a long run of
    # word characters is entered once (linear), not at each of its positions.
    alternatives = "|".join(f"(?:{_possessive(p)})" for p in patterns)
    return re.compile(r"(?<!\w)(?:" + alternatives + r")(?!\w)", re.IGNORECASE)


_COMPILED: dict[str, dict[str, re.Pattern[str]]] = {
    category: {language: _compile(patterns) for language, patterns in by_language.items()}
    for category, by_language in RULES.items()
}
_LEGAL = {language: _compile(patterns) for language, patterns in LEGAL_THREAT.items()}


@dataclass(frozen=True)
class Classification:
    """What the rules found in a text, with the evidence (for audit and tuning)."""

    category: str | None
    priority_hint: str | None
    legal_threat: bool
    matches: dict[str, list[str]] = field(default_factory=dict)

    def document(self) -> dict:
        """The stored explanation of the classification."""
        return {
            "category": self.category,
            "priority_hint": self.priority_hint,
            "legal_threat": self.legal_threat,
            "matches": self.matches,
        }


def classify(text: str, explicit_category: str | None = None) -> Classification:
    """Category (unless ``explicit_category`` is given) and priority hint of ``text``."""
    scores: dict[str, int] = {}
    matches: dict[str, list[str]] = {}
    for category, by_language in _COMPILED.items():
        for pattern in by_language.values():
            found = [m.group(0) for m in pattern.finditer(text)]
            if found:
                scores[category] = scores.get(category, 0) + len(found)
                evidence = matches.setdefault(category, [])
                evidence.extend(found[: MAX_EVIDENCE - len(evidence)])
    legal = [m.group(0) for pattern in _LEGAL.values() for m in pattern.finditer(text)]
    if legal:
        matches["legal_threat"] = legal[:MAX_EVIDENCE]
    if explicit_category:
        category: str | None = explicit_category
    elif scores:
        category = max(PRECEDENCE, key=lambda c: (scores.get(c, 0), -PRECEDENCE.index(c)))
    else:
        category = None
    if category in URGENT_CATEGORIES:
        hint: str | None = "urgent"
    elif legal:
        hint = "high"
    else:
        hint = None
    return Classification(category, hint, bool(legal), matches)


# References ----------------------------------------------------------------------------

# Persian and Arabic-Indic digits read as ASCII, so "سفارش ۱۰۴۲" gives order 1042.
_DIGITS = str.maketrans("۰۱۲۳۴۵۶۷۸۹٠١٢٣٤٥٦٧٨٩", "01234567890123456789")

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
    text = text.translate(_DIGITS)
    match = _ORDER_CODE.search(text) or _ORDER_WORD.search(text)
    return _clean_order(match.group(1)) if match else None


def extract_sku(text: str) -> str | None:
    """The first labelled product code (``SKU CH-20``) in ``text``, upper-cased."""
    match = _SKU.search(text.translate(_DIGITS))
    return match.group(1).upper() if match else None


# Language ------------------------------------------------------------------------------


CANDIDATE_LANGUAGES = (
    Language.ENGLISH,
    Language.GERMAN,
    Language.FRENCH,
    Language.SPANISH,
    Language.ITALIAN,
    Language.POLISH,
    Language.ROMANIAN,
    Language.RUSSIAN,
    Language.UKRAINIAN,
    Language.LATVIAN,
    Language.LITHUANIAN,
    Language.ESTONIAN,
    Language.SLOVENE,
    Language.CROATIAN,
    Language.PERSIAN,
    Language.ARABIC,
    Language.TURKISH,
)

# Below this share of the probability mass the top candidate is a guess, not a detection
# (measured: one-word texts such as "Nu merge." score about 0.15 among 17 candidates).
MIN_CONFIDENCE = 0.2

_detector: LanguageDetector | None = None
_lock = threading.Lock()


def _get_detector() -> LanguageDetector:
    global _detector
    if _detector is None:
        with _lock:
            if _detector is None:
                _detector = LanguageDetectorBuilder.from_languages(*CANDIDATE_LANGUAGES).build()
    return _detector


def supported_languages() -> list[str]:
    """ISO 639-1 codes of the languages detection can answer."""
    return sorted(lang.iso_code_639_1.name.lower() for lang in CANDIDATE_LANGUAGES)


def detect_language(text: str | None) -> str | None:
    """ISO 639-1 code of the language ``text`` is written in, or None when unsure."""
    if not text or not text.strip():
        return None
    detector = _get_detector()
    confidences = detector.compute_language_confidence_values(text)
    if not confidences or confidences[0].value < MIN_CONFIDENCE:
        return None
    return confidences[0].language.iso_code_639_1.name.lower()


_loaded = threading.Event()


def warm_up() -> None:
    """Load every candidate's models now (blocking; run it in a thread at start-up)."""
    detector = _get_detector()
    # One text per script family makes lingua load the models of all candidates.
    for sample in ("The parcel never arrived.", "Посылка не пришла.", "بسته نرسید."):
        detector.compute_language_confidence_values(sample)
    _loaded.set()


def models_loaded() -> bool:
    """Whether :func:`warm_up` has loaded every model (so detection never loads one)."""
    return _loaded.is_set()


# The whole normalisation ----------------------------------------------------------------

# Enrichment reads at most this much of a text: the category, the references and the
# language show in its beginning, and the work per complaint stays bounded whatever its size.
ENRICH_TEXT_CHARS = 64 * 1024
LANGUAGE_TEXT_CHARS = 8 * 1024


def enrich(draft: ComplaintDraft, extra_text: str | None = None) -> ComplaintDraft:
    """``draft`` with the detected language, category, priority hint and references filled in.

    What the submitter gave explicitly wins over what the text suggests (category, order
    number, product). The detected ``language`` is the language of the text; the customer's
    declared language stays on the customer and is the fallback when detection is unsure.
    ``extra_text`` (e.g. a call agent's notes) counts for category and references, not for
    the language, which is the customer's.
    """
    text = "\n".join(
        part[:ENRICH_TEXT_CHARS] for part in (draft.subject, draft.body, extra_text) if part
    )[: 2 * ENRICH_TEXT_CHARS]
    classification = classify(text, draft.category)
    product = draft.product
    if not (product and product.get("sku")):
        sku = extract_sku(text)
        if sku:
            product = {**(product or {}), "sku": sku}
    hint = _max_priority(draft.priority_hint, classification.priority_hint)
    return dataclasses.replace(
        draft,
        language=detect_language(draft.body[:LANGUAGE_TEXT_CHARS])
        or draft.language
        or draft.customer.language,
        category=classification.category,
        priority_hint=hint,
        order_ref=draft.order_ref or extract_order_ref(text),
        product=product,
        classification=classification.document(),
        # A reply's quoted history is ours (often another language): its own words decide.
        reply_language=(
            detect_language(draft.reply_text[:LANGUAGE_TEXT_CHARS]) if draft.reply_text else None
        ),
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
