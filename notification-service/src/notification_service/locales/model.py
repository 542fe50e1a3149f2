"""The customer's language and locale, pure (no I/O): the languages a message may be written
in, in order (:func:`language_candidates`), which way its text runs (:func:`direction`),
and how its dates, times and amounts are written for the customer (:class:`LocaleFormat`,
Babel with CLDR data).

The fallback order is the customer's language, then the desk's default language
(``REDRESS_DEFAULT_LANGUAGE``), then English. Each of the first two is tried from its most
specific form to its base language (RFC 4647 lookup), with the script CLDR expects for a
region in between: ``zh-TW`` → ``zh-TW``, ``zh-Hant``, ``zh``; ``pt-BR`` → ``pt-BR``, ``pt``;
``sr-Latn-RS`` → ``sr-Latn-RS``, ``sr-Latn``, ``sr``.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_time, get_datetime_format, get_timezone_name
from babel.numbers import format_currency, format_decimal

#: The last resort of the fallback order: every kind of message has an English text.
FALLBACK_LANGUAGE = "en"

#: Primary language subtags written right to left (when no script subtag says otherwise).
RTL_LANGUAGES = frozenset({"ar", "arc", "dv", "fa", "he", "ku", "ps", "sd", "ug", "ur", "yi"})
#: Scripts written right to left: a script subtag decides over the language (``ku-Latn``).
RTL_SCRIPTS = frozenset({"Adlm", "Arab", "Hebr", "Mand", "Nkoo", "Rohg", "Samr", "Syrc", "Thaa"})

#: A language tag as templates are stored under: canonical case, language[-Script][-REGION].
TAG_PATTERN = re.compile(r"^[a-z]{2,3}(-[A-Z][a-z]{3})?(-(?:[A-Z]{2}|[0-9]{3}))?$")

#: ISO 639-3 (and deprecated) codes of the languages we have texts for, as BCP 47 writes
#: them: language identifiers often answer ``ell`` or ``pes`` where a tag says ``el``, ``fa``.
ALIASES = {
    **dict.fromkeys(("ara", "arb"), "ar"),
    "bul": "bg",
    "ces": "cs",
    "dan": "da",
    "deu": "de",
    "ell": "el",
    "eng": "en",
    "spa": "es",
    **dict.fromkeys(("est", "ekk"), "et"),
    "fin": "fi",
    "fra": "fr",
    "gle": "ga",
    "hrv": "hr",
    "hun": "hu",
    "ita": "it",
    "lit": "lt",
    **dict.fromkeys(("lav", "lvs"), "lv"),
    "mlt": "mt",
    "nld": "nl",
    "pol": "pl",
    "por": "pt",
    **dict.fromkeys(("ron", "mo"), "ro"),
    "slk": "sk",
    "slv": "sl",
    "swe": "sv",
    **dict.fromkeys(("fas", "pes"), "fa"),
    "rus": "ru",
    "ukr": "uk",
    "tur": "tr",
    "jpn": "ja",
    **dict.fromkeys(("zho", "cmn"), "zh"),
    "hin": "hi",
    **dict.fromkeys(("heb", "iw"), "he"),
    "kor": "ko",
}

_LANGUAGE = re.compile(r"[A-Za-z]{2,3}")
_SCRIPT = re.compile(r"[A-Za-z]{4}")
_REGION = re.compile(r"[A-Za-z]{2}|[0-9]{3}")


def canonical_tag(tag: str | None) -> str:
    """The language, script and region of a BCP 47 tag in canonical case (``PT_br`` →
    ``pt-BR``, ``zh-hant-tw`` → ``zh-Hant-TW``, ``ell`` → ``el``); variants and extensions
    are dropped; '' when ``tag`` is absent, undetermined (``und``) or not a tag."""
    parts = re.split(r"[-_]", (tag or "").strip())
    if not _LANGUAGE.fullmatch(parts[0]) or parts[0].lower() == "und":
        return ""
    canonical = [ALIASES.get(parts[0].lower(), parts[0].lower())]
    rest = parts[1:]
    if rest and _SCRIPT.fullmatch(rest[0]):
        canonical.append(rest.pop(0).title())
    if rest and _REGION.fullmatch(rest[0]):
        canonical.append(rest.pop(0).upper())
    return "-".join(canonical)


def lookup_chain(tag: str | None) -> list[str]:
    """The forms of ``tag`` to try, most specific first (RFC 4647 lookup), with the script
    CLDR expects for the region before the bare language: ``zh-TW`` → ``zh-TW``,
    ``zh-Hant``, ``zh``."""
    canonical = canonical_tag(tag)
    if not canonical:
        return []
    parts = canonical.split("-")
    chain = ["-".join(parts[:length]) for length in range(len(parts), 0, -1)]
    script = _likely_script(canonical)
    if script and f"{parts[0]}-{script}" not in chain:
        chain.insert(-1, f"{parts[0]}-{script}")
    return chain


def language_candidates(customer_language: str | None, desk_language: str | None) -> list[str]:
    """The languages a message may be written in, best first: the customer's language, the
    desk's default language, English (each from its most specific form to its base)."""
    chains = (lookup_chain(customer_language), lookup_chain(desk_language), [FALLBACK_LANGUAGE])
    return list(dict.fromkeys(form for chain in chains for form in chain))


def direction(tag: str) -> str:
    """``rtl`` for a language (or script) written right to left, else ``ltr``."""
    parts = canonical_tag(tag).split("-")
    script = next((part for part in parts[1:] if len(part) == 4), None)
    if script is not None:
        return "rtl" if script in RTL_SCRIPTS else "ltr"
    return "rtl" if parts[0] in RTL_LANGUAGES else "ltr"


@functools.lru_cache(maxsize=512)
def _likely_script(canonical: str) -> str | None:
    if "-" not in canonical:
        return None
    try:
        return Locale.parse(canonical, sep="-").script
    except (UnknownLocaleError, ValueError):
        return None


@functools.lru_cache(maxsize=512)
def babel_locale(tag: str) -> Locale:
    """CLDR's locale for ``tag``: the most specific form of it CLDR knows, else English."""
    for form in [*lookup_chain(tag), FALLBACK_LANGUAGE]:
        try:
            return Locale.parse(form, sep="-")
        except (UnknownLocaleError, ValueError):
            continue
    return Locale.parse(FALLBACK_LANGUAGE)


def zone_named(name: str | None) -> ZoneInfo | None:
    """The IANA time zone ``name`` (``Europe/Bucharest``), or None when absent or unknown."""
    if not name or len(name) > 64:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


# --- what a message's variables look like to the customer ------------------------------------


@dataclass(frozen=True)
class DateOf:
    """A moment the customer is told only the date of, as it is in their time zone."""

    moment: datetime


@dataclass(frozen=True)
class Amount:
    """A sum of money: written as a number with the currency's decimals (``1.249,90``), or,
    ``with_currency``, with the currency as the locale writes it (``1.249,90 €``)."""

    value: str
    currency: str | None
    with_currency: bool = False


_UNIVERSAL_ZONES = frozenset({"UTC", "UCT", "GMT", "Universal", "Zulu", "Greenwich", "GMT0"})


@dataclass(frozen=True)
class LocaleFormat:
    """How dates, times and amounts are written for one customer: CLDR's ``locale`` and the
    customer's time ``zone``; digits, decimal and group signs of the locale's own numbering
    system (Persian digits for ``fa``, Arabic-Indic for ``ar-EG``, Latin for ``ar`` and most
    others, as CLDR says)."""

    locale: Locale
    zone: ZoneInfo

    def moment(self, value: datetime) -> str:
        """Date, time and time zone: ``November 25, 2026, 11:00 AM (Eastern European Time)``,
        in the customer's time zone."""
        local = value.astimezone(self.zone)
        day = format_date(local, "long", locale=self.locale)
        clock = format_time(local, "short", locale=self.locale)
        pattern, zone = _moment_frame(self.locale, self.zone)
        text = pattern.replace("{1}", day).replace("{0}", clock)
        return self._digits(f"{text} ({zone})")

    def zone_name(self, local: datetime) -> str:
        """The time zone's name the way people say it (``Central European Time``, all year);
        ``Coordinated Universal Time`` for UTC, which has no such name."""
        return _moment_frame(self.locale, self.zone)[1]

    def day(self, value: date | datetime | DateOf) -> str:
        """A date (``25 November 2026``); a moment's date in the customer's time zone."""
        if isinstance(value, DateOf):
            value = value.moment
        if isinstance(value, datetime):
            value = value.astimezone(self.zone).date()
        return self._digits(format_date(value, "long", locale=self.locale))

    def amount(self, amount: Amount) -> str:
        """An amount with its currency's decimals, with or without the currency; the text
        as given when it is not a number."""
        try:
            value = Decimal(amount.value)
        except (InvalidOperation, ValueError):
            return amount.value
        if not value.is_finite():
            return amount.value
        currency = (amount.currency or "").upper() or None
        system = "default"  # the locale's own decimal and group signs
        if amount.with_currency and currency:
            text = format_currency(value, currency, locale=self.locale, numbering_system=system)
        elif currency:
            pattern = self.locale.decimal_formats[None]
            text = pattern.apply(value, self.locale, currency=currency, numbering_system=system)
        else:
            text = format_decimal(value, locale=self.locale, numbering_system=system)
        return self._digits(text)

    def _digits(self, text: str) -> str:
        return text.translate(_native_digits(str(self.locale)))

    def localise(self, values: dict) -> dict:
        """``values`` with every moment, date and amount written for the customer; other
        values unchanged."""
        return {name: self._written(value) for name, value in values.items()}

    def _written(self, value: object) -> object:
        if isinstance(value, datetime):
            return self.moment(value)
        if isinstance(value, date | DateOf):
            return self.day(value)
        if isinstance(value, Amount):
            return self.amount(value)
        return value


@functools.lru_cache(maxsize=1024)
def _moment_frame(locale: Locale, zone: ZoneInfo) -> tuple[str, str]:
    """What a moment's text takes from its locale and zone alone, looked up once per pair
    (CLDR lookups, about a fifth of writing a moment): the pattern joining date and time,
    and the zone's name, the same all year (:meth:`LocaleFormat.zone_name`)."""
    pattern = get_datetime_format("long", locale=locale).replace("'", "")
    if getattr(zone, "key", "UTC").removeprefix("Etc/") in _UNIVERSAL_ZONES:
        # A universal zone has no name of its own in CLDR: its GMT format's long form,
        # which does not change with the date.
        name = format_time(datetime(2000, 1, 1, tzinfo=zone), "zzzz", tzinfo=zone, locale=locale)
    else:
        name = get_timezone_name(zone, width="long", locale=locale)
    return pattern, name


#: The zero of each numbering system CLDR makes a locale's default (the other nine digits
#: follow it in Unicode). Babel writes Latin digits whatever the numbering system; we put the
#: locale's own in.
NUMBERING_SYSTEM_ZERO = {
    "adlm": 0x1E950,
    "arab": 0x0660,
    "arabext": 0x06F0,
    "beng": 0x09E6,
    "cakm": 0x11136,
    "deva": 0x0966,
    "hmnp": 0x1E140,
    "mtei": 0xABF0,
    "mymr": 0x1040,
    "nkoo": 0x07C0,
    "olck": 0x1C50,
    "tibt": 0x0F20,
}


@functools.lru_cache(maxsize=512)
def _native_digits(locale_name: str) -> dict[int, str]:
    """Latin digit → the locale's own digit (empty when it writes Latin digits)."""
    zero = NUMBERING_SYSTEM_ZERO.get(Locale.parse(locale_name).default_numbering_system)
    return {} if zero is None else {ord("0") + digit: chr(zero + digit) for digit in range(10)}


def locale_format(
    customer_language: str | None, text_language: str, zone: ZoneInfo
) -> LocaleFormat:
    """The formats of a message written in ``text_language`` for a customer: the customer's
    own tag when it is a form of that language (``pt-BR`` for a ``pt`` text, ``ar-EG`` for an
    ``ar`` one), else the text's language, so the figures agree with the words around them."""
    customer = canonical_tag(customer_language)
    tag = customer if text_language in lookup_chain(customer) else text_language
    return LocaleFormat(babel_locale(tag), zone)
