"""Language identification of complaint text, offline, with lingua.

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

import threading

from lingua import Language, LanguageDetector, LanguageDetectorBuilder

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


def warm_up() -> None:
    """Load every candidate's models now (blocking; run it in a thread at start-up)."""
    detector = _get_detector()
    # One text per script family makes lingua load the models of all candidates.
    for sample in ("The parcel never arrived.", "Посылка не пришла.", "بسته نرسید."):
        detector.compute_language_confidence_values(sample)
