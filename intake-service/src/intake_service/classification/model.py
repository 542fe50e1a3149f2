"""Classification rules, pure (no I/O): the category of a complaint and the signals that
raise its priority, from keyword tables per language.

How a text is matched
=====================
* Text and keywords are **folded** the same way (:func:`fold`): case-folded, accents and
  vowel points stripped (Latin, Greek, Cyrillic diacritics, Arabic harakat, Hebrew niqqud),
  a few letters without a decomposition mapped (ł→l, ø→o, ħ→h, dotless ı→i, ...), curly
  apostrophes made straight, the Persian zero-width non-joiner made a space and whitespace
  runs collapsed. "Žádám", "zadam" and "ŽÁDÁM" are one word; customers type without accents.
* A keyword is a **stem**: in scripts that separate words with spaces it matches at the start
  of a word and may go on (``deliver`` matches "delivered", ``rēķin`` "rēķinu"); in Han, Kana,
  Hangul, Thai, Arabic and Hebrew script it matches anywhere (words run together or take
  prefixes there: "والطرد", "החבילה", "택배가"). A keyword written ``=word`` matches only that
  whole word (for short stems that would match too much: ``=fire``, ``=bill``).
* Every keyword of every table in play is found in **one pass** over the text by an
  Aho-Corasick automaton (``pyahocorasick``): linear in the text, whatever the rules; desks'
  own keywords can never make a regular expression backtrack, because there is none. At most
  :data:`MAX_MATCHES` matches are scored, so keywords nested in each other cannot multiply
  the work per character either.
* Each match scores one point for its category; the highest score wins; a tie goes to the
  category listed first in :data:`PRECEDENCE` (the more specific and urgent one;
  ``product_defect`` is the generic "it does not work" and comes last; a desk's own
  categories come after these). No match: no category.

Which tables are in play
========================
The built-in tables ship as package data, one JSON file per language
(``classification/data/<language>.json``). A complaint is matched against the table of its
identified language, of the customer's declared language and English (complaints mix in
English product names and words); when none of them has a table, against every table (the
stems rarely collide across languages). Measured on the test set (README, "Languages"):
the identified language's tables give 99.3 % categories and 100 % signals, every table at
once 99.0 % and 97.9 % (a word of one language is a signal in another: Indonesian "asap" is
smoke, English "asap" a deadline). A desk adds keywords, categories or turns built-in keywords off per language
(:class:`DeskRules`, through the API), without a release.

Signals and the priority hint
=============================
* ``urgent``: the category is an outage or a safety hazard (the practice: outages first).
* ``high``: a ``legal_threat`` (lawyer, court, consumer authority), a ``deadline`` the
  customer names ("by Friday", "urgent"), or a ``reputation`` threat (social media, press,
  reviews), whatever the category. A reputation threat also flags the complaint
  reputation-sensitive.
The hint travels in the event; the case service decides the priority.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources

import ahocorasick
from redress_shared.errors import DomainError

PRECEDENCE = (
    "safety",
    "outage",
    "billing_error",
    "delivery",
    "staff_behaviour",
    "product_defect",
)
SIGNALS = ("legal_threat", "deadline", "reputation")
URGENT_CATEGORIES = frozenset({"outage", "safety"})
HIGH_SIGNALS = frozenset(SIGNALS)
MAX_EVIDENCE = 20  # matches kept per category or signal as evidence (all of them count)
# The automaton's pass is linear, but it reports every keyword that ends at a position, and
# keywords nested in each other ("aa", "aaa", ...) could report many per character: after
# this many reported matches the rest of the text is not scored (a complaint decides its
# category long before; a text that does not is noise).
MAX_MATCHES = 5000

# What a desk may define for one language (bounded: the automaton and the stored document
# stay small, and one PUT cannot make matching slow).
MAX_KEYWORD_CHARS = 80
MAX_KEYWORDS_PER_LIST = 200
MAX_KEYWORDS_PER_LANGUAGE = 1000
MAX_CATEGORIES = 30
LANGUAGE_CODE = re.compile(r"[a-z]{2}")
CATEGORY_NAME = re.compile(r"[a-z][a-z0-9_]{1,39}")
EXACT = "="

# Folding ---------------------------------------------------------------------------------

_DROPPED_MARKS = [
    *range(0x0300, 0x0370),  # combining diacritics of Latin, Greek and Cyrillic letters
    *range(0x0591, 0x05C8),  # Hebrew points and cantillation
    *range(0x064B, 0x0660),  # Arabic harakat
    0x0670,  # Arabic superscript alef
    0x0640,  # Arabic tatweel (a stretched letter)
]
_FOLDED_LETTERS = {
    "ł": "l",
    "đ": "d",
    "ø": "o",
    "ħ": "h",
    "ı": "i",
    "æ": "ae",
    "œ": "oe",
    "’": "'",
    "‘": "'",
    "ʼ": "'",
    "\u200c": " ",  # Persian zero-width non-joiner: "بی‌ادب" and "بی ادب" are one word
}
# Regular-expression substitutions instead of one str.translate over every character (a
# dictionary look-up each, most of a fold's time: a 5 KB text 317 → 102 µs): the marks go
# in one pass, the letters above are replaced where they occur. Neither pass makes what the
# other takes, so the result is the one translation's.
_MARKS = re.compile("[" + "".join(re.escape(chr(point)) for point in _DROPPED_MARKS) + "]+")
_LETTERS = re.compile("[" + "".join(map(re.escape, _FOLDED_LETTERS)) + "]")


def _folded_letter(match: re.Match[str]) -> str:
    return _FOLDED_LETTERS[match.group()]


def fold(text: str) -> str:
    """``text`` case-folded, without accents, with whitespace runs collapsed (linear)."""
    decomposed = _MARKS.sub("", unicodedata.normalize("NFKD", text.casefold()))
    decomposed = _LETTERS.sub(_folded_letter, decomposed)
    return " ".join(unicodedata.normalize("NFC", decomposed).split())


def _is_word_char(char: str) -> bool:
    return unicodedata.category(char)[0] in "LMN"


def _runs_together(char: str) -> bool:
    """Whether words of ``char``'s script run together or take prefixes (substring match)."""
    point = ord(char)
    return (
        0x0590 <= point <= 0x06FF  # Hebrew, Arabic (Persian)
        or 0x0750 <= point <= 0x077F
        or 0x0E00 <= point <= 0x0E7F  # Thai
        or 0x1100 <= point <= 0x11FF  # Hangul jamo
        or 0x3040 <= point <= 0x30FF  # Kana
        or 0x3130 <= point <= 0x318F
        or 0x3400 <= point <= 0x9FFF  # Han
        or 0xAC00 <= point <= 0xD7AF  # Hangul syllables
        or 0xF900 <= point <= 0xFAFF
        or 0xFB1D <= point <= 0xFEFF  # presentation forms
    )


# Rules -----------------------------------------------------------------------------------


class InvalidRules(DomainError):
    """A desk's classification rules break a limit or name something unknown."""


class StaleRules(DomainError):
    """A write based on a stale read (``If-Match`` names an older version of the rules)."""


@dataclass(frozen=True)
class LanguageRules:
    """One language's keywords: per category and per signal, as written (``=`` for exact)."""

    language: str
    categories: Mapping[str, tuple[str, ...]]
    signals: Mapping[str, tuple[str, ...]]

    def document(self) -> dict:
        """The rules as JSON-ready lists."""
        return {
            "categories": {name: list(words) for name, words in self.categories.items()},
            "signals": {name: list(words) for name, words in self.signals.items()},
        }

    def keyword_count(self) -> int:
        """How many keywords the rules hold."""
        return sum(len(words) for words in (*self.categories.values(), *self.signals.values()))


@dataclass(frozen=True)
class DeskRules:
    """What a desk changed for one language: keywords added per category or signal, and
    built-in keywords turned off; ``version`` counts the changes (0: none yet)."""

    language: str
    categories: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    signals: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    disabled: tuple[str, ...] = ()
    version: int = 0

    def document(self) -> dict:
        """What is stored (and audited) for these rules."""
        return {
            "categories": {name: list(words) for name, words in self.categories.items()},
            "signals": {name: list(words) for name, words in self.signals.items()},
            "disabled": list(self.disabled),
        }


def check_version(expected: int | None, current: int) -> None:
    """Refuse a write based on a stale read; None means "unconditionally"."""
    if expected is not None and expected != current:
        raise StaleRules(
            f"The rules are at version {current}, not {expected}; read them again",
            current_version=current,
        )


def _checked_keywords(where: str, words: Iterable[str]) -> tuple[str, ...]:
    words = list(words)
    if len(words) > MAX_KEYWORDS_PER_LIST:
        raise InvalidRules(f"{where}: at most {MAX_KEYWORDS_PER_LIST} keywords")
    checked = []
    for word in words:
        stripped = " ".join(word.split())
        folded = fold(stripped.removeprefix(EXACT))
        if len(stripped) > MAX_KEYWORD_CHARS:
            raise InvalidRules(f"{where}: {word[:40]!r}… is longer than {MAX_KEYWORD_CHARS}")
        if len(folded) < 2 or not any(_is_word_char(char) for char in folded):
            raise InvalidRules(f"{where}: {word!r} is too short to be a keyword")
        if any(unicodedata.category(char) in ("Cc", "Cf", "Cs") for char in folded):
            raise InvalidRules(f"{where}: {word!r} contains control characters")
        checked.append(stripped)
    return tuple(dict.fromkeys(checked))


def desk_rules(
    language: str,
    categories: Mapping[str, Iterable[str]],
    signals: Mapping[str, Iterable[str]],
    disabled: Iterable[str],
    version: int = 0,
) -> DeskRules:
    """A desk's rules for ``language``, checked against the limits (:class:`InvalidRules`)."""
    if not LANGUAGE_CODE.fullmatch(language):
        raise InvalidRules(f"{language!r} is not an ISO 639-1 language code (two letters)")
    if len(categories) > MAX_CATEGORIES:
        raise InvalidRules(f"at most {MAX_CATEGORIES} categories")
    for name in categories:
        if not CATEGORY_NAME.fullmatch(name):
            raise InvalidRules(f"{name!r} is not a category name (a-z, 0-9, _; 2-40)")
    unknown = sorted(set(signals) - set(SIGNALS))
    if unknown:
        raise InvalidRules(f"unknown signals {unknown}; known: {list(SIGNALS)}")
    rules = DeskRules(
        language=language,
        categories={n: _checked_keywords(f"categories.{n}", w) for n, w in categories.items()},
        signals={n: _checked_keywords(f"signals.{n}", w) for n, w in signals.items()},
        disabled=_checked_keywords("disabled", disabled),
        version=version,
    )
    total = len(rules.disabled) + sum(
        len(words) for words in (*rules.categories.values(), *rules.signals.values())
    )
    if total > MAX_KEYWORDS_PER_LANGUAGE:
        raise InvalidRules(f"at most {MAX_KEYWORDS_PER_LANGUAGE} keywords in one language")
    return rules


def apply_desk_rules(built_in: LanguageRules | None, desk: DeskRules) -> LanguageRules:
    """``built_in`` with the desk's keywords added and its disabled ones taken out."""
    off = {fold(word) for word in desk.disabled}
    categories: dict[str, list[str]] = {}
    signals: dict[str, list[str]] = {}
    for target, base, added in (
        (categories, built_in.categories if built_in else {}, desk.categories),
        (signals, built_in.signals if built_in else {}, desk.signals),
    ):
        for name in [*base, *(name for name in added if name not in base)]:
            words = [w for w in base.get(name, ()) if fold(w) not in off]
            words += [w for w in added.get(name, ()) if w not in words]
            target[name] = words
    return LanguageRules(
        desk.language,
        {name: tuple(words) for name, words in categories.items()},
        {name: tuple(words) for name, words in signals.items()},
    )


@cache
def built_in_rules() -> dict[str, LanguageRules]:
    """The shipped keyword tables, by language (package data, read once)."""
    tables = {}
    for entry in resources.files("intake_service.classification").joinpath("data").iterdir():
        if entry.name.endswith(".json"):
            document = json.loads(entry.read_text(encoding="utf-8"))
            language = document["language"]
            tables[language] = LanguageRules(
                language,
                {name: tuple(words) for name, words in document["categories"].items()},
                {name: tuple(words) for name, words in document["signals"].items()},
            )
    return tables


# Matching --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Classification:
    """What the rules found in a text, with the evidence (for audit and tuning)."""

    category: str | None
    priority_hint: str | None
    signals: frozenset[str] = frozenset()
    matches: dict[str, list[str]] = field(default_factory=dict)
    languages: tuple[str, ...] | None = None

    @property
    def legal_threat(self) -> bool:
        """Whether the text threatens legal action."""
        return "legal_threat" in self.signals

    @property
    def reputation_threat(self) -> bool:
        """Whether the text threatens the desk's reputation (social media, press, reviews)."""
        return "reputation" in self.signals

    def document(self) -> dict:
        """The stored explanation of the classification."""
        return {
            "category": self.category,
            "priority_hint": self.priority_hint,
            "legal_threat": self.legal_threat,
            "signals": sorted(self.signals),
            "matches": self.matches,
            "languages": list(self.languages) if self.languages else "all",
        }


@dataclass(frozen=True)
class _Keyword:
    language: str
    label: str  # "category:delivery" or "signal:deadline"
    length: int
    exact: bool
    anywhere: bool  # no word start needed (scripts whose words run together)


class Rulebook:
    """Every language's rules compiled into one automaton; immutable once built."""

    def __init__(self, tables: Mapping[str, LanguageRules], fold_accents: bool = True) -> None:
        self.tables = dict(tables)
        self.fold = fold if fold_accents else (lambda text: " ".join(text.casefold().split()))
        self._automaton = ahocorasick.Automaton()
        entries: dict[str, list[_Keyword]] = {}
        for language, table in self.tables.items():
            for kind, groups in (("category", table.categories), ("signal", table.signals)):
                for name, words in groups.items():
                    for word in words:
                        exact = word.startswith(EXACT)
                        folded = self.fold(word.removeprefix(EXACT))
                        if not folded:
                            continue
                        entries.setdefault(folded, []).append(
                            _Keyword(
                                language,
                                f"{kind}:{name}",
                                len(folded),
                                exact,
                                _runs_together(folded[0]),
                            )
                        )
        for folded, keywords in entries.items():
            self._automaton.add_word(folded, (folded, tuple(keywords)))
        if entries:
            self._automaton.make_automaton()
        self._empty = not entries
        extra = sorted(
            {n for t in self.tables.values() for n in t.categories if n not in PRECEDENCE}
        )
        self.precedence = (*PRECEDENCE, *extra)
        self._rank = {name: index for index, name in enumerate(self.precedence)}

    def languages(self) -> list[str]:
        """The languages the rulebook has tables for."""
        return sorted(self.tables)

    def tables_for(self, *languages: str | None) -> tuple[str, ...] | None:
        """The tables to match a text of ``languages`` (identified, declared) against: theirs
        and English; every table (None) when none of them has one."""
        known = tuple(dict.fromkeys(lang for lang in languages if lang in self.tables))
        if not known:
            return None
        return known if "en" in known else (*known, "en")

    def classify(
        self,
        text: str,
        explicit_category: str | None = None,
        languages: Iterable[str | None] | None = None,
    ) -> Classification:
        """Category (unless ``explicit_category`` is given), signals and priority hint of
        ``text``, by the tables of ``languages`` (None: every table)."""
        allowed = None if languages is None else frozenset(filter(None, languages))
        folded = self.fold(text)
        scores: dict[str, int] = {}
        matches: dict[str, list[str]] = {}
        found_signals: set[str] = set()
        reported = [] if self._empty else self._automaton.iter(folded)
        for count, (end, (word, keywords)) in enumerate(reported):
            if count >= MAX_MATCHES:
                break
            start = end - len(word) + 1
            labels = set()
            for keyword in keywords:
                if allowed is not None and keyword.language not in allowed:
                    continue
                if not keyword.anywhere or keyword.exact:
                    if start > 0 and _is_word_char(folded[start - 1]):
                        continue
                if keyword.exact and end + 1 < len(folded) and _is_word_char(folded[end + 1]):
                    continue
                labels.add(keyword.label)
            for label in labels:  # a word in two tables counts once
                kind, name = label.split(":", 1)
                if kind == "category":
                    scores[name] = scores.get(name, 0) + 1
                else:
                    found_signals.add(name)
                evidence = matches.setdefault(name, [])
                if len(evidence) < MAX_EVIDENCE:
                    evidence.append(word)
        if explicit_category:
            category: str | None = explicit_category
        elif scores:
            rank, last = self._rank, len(self._rank)
            category = max(scores, key=lambda c: (scores[c], -rank.get(c, last)))
        else:
            category = None
        if category in URGENT_CATEGORIES:
            hint: str | None = "urgent"
        elif found_signals & HIGH_SIGNALS:
            hint = "high"
        else:
            hint = None
        chosen = tuple(sorted(allowed)) if allowed is not None else None
        return Classification(category, hint, frozenset(found_signals), matches, chosen)


def rulebook(desk: Iterable[DeskRules] = (), fold_accents: bool = True) -> Rulebook:
    """The built-in tables with the desks' changes applied."""
    tables = dict(built_in_rules())
    for rules in desk:
        tables[rules.language] = apply_desk_rules(tables.get(rules.language), rules)
    return Rulebook(tables, fold_accents)


@cache
def built_in_rulebook(fold_accents: bool = True) -> Rulebook:
    """The shipped tables compiled (no desk changes)."""
    return rulebook(fold_accents=fold_accents)


# The variants the benchmark compares (see the README): folding accents or not, and matching
# the identified language's table (plus English) or every table at once.
VARIANTS = {
    "folded, identified language + en": {"fold_accents": True, "by_language": True},
    "folded, every table": {"fold_accents": True, "by_language": False},
    "case only, identified language + en": {"fold_accents": False, "by_language": True},
    "case only, every table": {"fold_accents": False, "by_language": False},
}
