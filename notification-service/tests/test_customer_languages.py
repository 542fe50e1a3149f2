"""Customer languages without infrastructure: every built-in language has every kind of
message with every variable English uses, and renders; the fallback order; locale formats
(dates, times, amounts, digits) and right-to-left HTML."""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from babel import Locale, localedata
from jinja2 import Environment, meta
from notification_service.config import NotificationSettings
from notification_service.locales.model import (
    NUMBERING_SYSTEM_ZERO,
    Amount,
    DateOf,
    canonical_tag,
    direction,
    language_candidates,
    locale_format,
    lookup_chain,
)
from notification_service.templates.default_templates import BUILT_IN, built_in
from notification_service.templates.model import KINDS, VARIABLES, render, validate
from pydantic import ValidationError

#: The 24 official languages of the EU, the others the desk serves, and the ones of the
#: end-to-end check (ja, el, ar) and a few more.
EU_LANGUAGES = "bg cs da de el en es et fi fr ga hr hu it lt lv mt nl pl pt ro sk sl sv".split()
REQUIRED_LANGUAGES = (*EU_LANGUAGES, "ar", "fa", "ru", "uk", "tr", "ja")
BUILT_IN_LANGUAGES = sorted(BUILT_IN["acknowledgement"])

# Every branch of every kind: each variant is rendered in every language.
VARIANTS: dict[str, list[dict]] = {
    "acknowledgement": [{}, {"subject": None}],
    "resolved": [{}, {"resolution": None}],
    "delay_apology": [{"deadline": "resolve"}, {"deadline": "first_response"}],
    "decision": [
        {"validity": v, "explanation": e, "way_forward": w}
        for v in ("justified", "partly_justified", "unjustified")
        for e, w in (("Explained.", "A discount."), (None, None))
    ],
    "remedy": [
        {"remedy_type": t}
        for t in (
            "refund",
            "replacement",
            "repair",
            "discount",
            "credit",
            "upgrade",
            "apology_gesture",
            "other",
        )
    ]
    + [{"amount": None, "amount_with_currency": None, "method": None, "due_date": None}],
}


#: The moments, dates and amounts of the sample values as the service passes them: written
#: for each language before rendering (so "7 декември 2026 г." meets the text around it).
TYPED_SAMPLES = {
    "first_response_by": datetime(2026, 11, 25, 9, 0, tzinfo=UTC),
    "resolve_by": DateOf(datetime(2026, 12, 7, 17, 0, tzinfo=UTC)),
    "missed_at": datetime(2026, 12, 7, 17, 0, tzinfo=UTC),
    "new_time": datetime(2026, 12, 9, 17, 0, tzinfo=UTC),
    "amount": Amount("1249.90", "EUR"),
    "amount_with_currency": Amount("1249.90", "EUR", with_currency=True),
    "due_date": date(2026, 12, 10),
    "resolved_on": DateOf(datetime(2026, 12, 1, 12, 0, tzinfo=UTC)),
}


def _variables(kind: str, language: str) -> set[str]:
    text = BUILT_IN[kind][language]
    return meta.find_undeclared_variables(Environment().parse(text.subject + "\n" + text.body_text))


def test_every_required_language_is_built_in():
    assert set(REQUIRED_LANGUAGES) <= set(BUILT_IN_LANGUAGES)


@pytest.mark.parametrize("language", BUILT_IN_LANGUAGES)
def test_a_built_in_language_has_every_kind_with_the_variables_english_uses(language):
    missing_kinds = [kind for kind in KINDS if language not in BUILT_IN[kind]]
    assert not missing_kinds, f"{language} lacks {missing_kinds}"
    for kind in KINDS:
        missing = _variables(kind, "en") - _variables(kind, language)
        assert not missing, f"{language} {kind} does not use {sorted(missing)}"
        assert "reference" in _variables(kind, language), "replies thread back by it"


@pytest.mark.parametrize("language", BUILT_IN_LANGUAGES)
def test_a_built_in_language_renders_every_branch(language):
    for kind in KINDS:
        text = BUILT_IN[kind][language]
        validate(kind, text)  # what an operator's edit must pass, built-ins pass too
        written = locale_format(language, language, ZoneInfo("Europe/Brussels"))
        for variant in VARIANTS.get(kind, [{}]):
            values = (
                VARIABLES[kind]
                | written.localise(
                    {
                        name: value
                        for name, value in TYPED_SAMPLES.items()
                        if name in VARIABLES[kind]
                    }
                )
                | variant
            )
            rendered = render(kind, language, text, values)
            assert "RDR-2026-000123" in rendered.subject
            for part in (rendered.subject, rendered.body_text):
                assert not re.search(r"[{}]{2}|\{%|%\}", part), (kind, variant, part)
                assert "\n\n\n" not in part and "  " not in part, (kind, variant, part)
                assert ".." not in part and " ." not in part and " ," not in part, part
                assert part == part.lstrip()


def test_built_in_texts_differ_from_english():
    """A translation that is still English is caught (one phrase per kind)."""
    for language in BUILT_IN_LANGUAGES:
        if language == "en":
            continue
        for kind in KINDS:
            if kind == "response":
                continue
            assert BUILT_IN[kind][language].subject != BUILT_IN[kind]["en"].subject, (
                language,
                kind,
            )


# --- fallback order ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("customer", "desk", "expected"),
    [
        ("ro-RO", "en", ["ro-RO", "ro", "en"]),
        ("pt-BR", "de", ["pt-BR", "pt", "de", "en"]),
        ("zh-TW", "en", ["zh-TW", "zh-Hant", "zh", "en"]),
        ("zh-Hant", "en", ["zh-Hant", "zh", "en"]),
        ("sr-Latn-RS", "de-AT", ["sr-Latn-RS", "sr-Latn", "sr", "de-AT", "de", "en"]),
        ("EL", "en", ["el", "en"]),
        ("ell", "en", ["el", "en"]),  # ISO 639-3, as language identifiers answer
        (None, "de", ["de", "en"]),
        ("und", "fr", ["fr", "en"]),
        ("not a tag!", "en", ["en"]),
    ],
)
def test_language_candidates_follow_the_fallback_order(customer, desk, expected):
    assert language_candidates(customer, desk) == expected


@pytest.mark.parametrize(
    ("customer", "desk", "chosen"),
    [
        ("ja", "en", "ja"),
        ("pt-BR", "en", "pt"),  # the base language's text
        ("sr-Latn", "de", "de"),  # no Serbian built in: the desk's language
        ("zh-Hant", "en", "zh"),
        ("id", "fr", "fr"),
        ("id", "xx", "en"),  # neither: English
        (None, "en-GB", "en"),
    ],
)
def test_the_built_in_text_of_the_first_candidate_with_one_is_chosen(customer, desk, chosen):
    assert built_in("acknowledgement", language_candidates(customer, desk)).language == chosen


def test_the_desk_language_setting_takes_a_tag_and_refuses_nonsense():
    assert NotificationSettings(default_language="EN_gb").default_language == "en-GB"
    with pytest.raises(ValidationError):
        NotificationSettings(default_language="*")
    with pytest.raises(ValidationError):
        NotificationSettings(default_time_zone="Mars/Olympus_Mons")


@pytest.mark.parametrize(
    ("tag", "canonical"),
    [("PT_br", "pt-BR"), ("zh-hant-tw", "zh-Hant-TW"), ("en-GB-oxendict", "en-GB"), ("", "")],
)
def test_tags_are_canonical(tag, canonical):
    assert canonical_tag(tag) == canonical
    assert lookup_chain(tag)[:1] == ([canonical] if canonical else [])


# --- locale formats ---------------------------------------------------------------------------

MOMENT = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


def _spaced(text: str) -> str:
    """CLDR puts no-break spaces where a line must not break: compared as plain spaces."""
    return " ".join(text.split())


@pytest.mark.parametrize(
    ("customer", "text", "zone", "moment", "money"),
    [
        ("en", "en", "UTC", "November 25, 2026, 9:00 AM (Coordinated Universal Time)", "€1,249.90"),
        (
            "de",
            "de",
            "Europe/Berlin",
            "25. November 2026, 10:00 (Mitteleuropäische Zeit)",
            "1.249,90 €",
        ),
        ("ja", "ja", "Asia/Tokyo", "2026年11月25日 18:00 (日本時間)", "€1,249.90"),
        (
            "el",
            "el",
            "Europe/Athens",
            "25 Νοεμβρίου 2026 - 11:00 π.μ. (Ώρα Ανατολικής Ευρώπης)",
            "1.249,90 €",
        ),
        # CLDR: Persian digits for fa, Arabic-Indic for ar-EG, Latin for ar.
        ("fa", "fa", "Asia/Tehran", "۲۵ نوامبر ۲۰۲۶، ساعت ۱۲:۳۰ (وقت ایران)", "‎€ ۱٬۲۴۹٫۹۰"),
        (
            "ar-EG",
            "ar",
            "Africa/Cairo",
            "٢٥ نوفمبر ٢٠٢٦، ١١:٠٠ ص (توقيت شرق أوروبا)",
            "‏١٬٢٤٩٫٩٠ €",
        ),
        (
            "ar",
            "ar",
            "Asia/Riyadh",
            "25 نوفمبر 2026، 12:00 م (التوقيت العربي)",
            "‏1,249.90 €",
        ),
        # The customer's region when the text is in their language; else the text's locale.
        (
            "pt-BR",
            "pt",
            "America/Sao_Paulo",
            "25 de novembro de 2026 06:00 (Horário de Brasília)",
            "€ 1.249,90",
        ),
        ("id", "en", "UTC", "November 25, 2026, 9:00 AM (Coordinated Universal Time)", "€1,249.90"),
    ],
)
def test_moments_and_amounts_are_written_for_the_locale_and_time_zone(
    customer, text, zone, moment, money
):
    written = locale_format(customer, text, ZoneInfo(zone))
    assert _spaced(written.moment(MOMENT)) == moment
    assert _spaced(written.amount(Amount("1249.90", "EUR", with_currency=True))) == money


def test_dates_are_the_date_in_the_customers_time_zone():
    late = datetime(2026, 12, 7, 23, 30, tzinfo=UTC)
    assert locale_format("ja", "ja", ZoneInfo("Asia/Tokyo")).day(DateOf(late)) == "2026年12月8日"
    assert locale_format("en", "en", ZoneInfo("UTC")).day(date(2026, 12, 7)) == "December 7, 2026"


def test_amounts_take_the_currencys_decimals_and_survive_odd_input():
    written = locale_format("de", "de", ZoneInfo("UTC"))
    assert written.amount(Amount("49.9", "EUR")) == "49,90"
    assert _spaced(written.amount(Amount("1500", "JPY", with_currency=True))) == "1.500 ¥"
    assert written.amount(Amount("12.5", None)) == "12,5"
    assert written.amount(Amount("about fifty", "EUR")) == "about fifty"


def test_localise_writes_only_moments_dates_and_amounts():
    localised = locale_format("fr", "fr", ZoneInfo("Europe/Paris")).localise(
        {
            "first_response_by": MOMENT,
            "resolve_by": DateOf(MOMENT),
            "due_date": date(2026, 12, 10),
            "amount": Amount("49.90", "EUR"),
            "amount_with_currency": Amount("49.90", "EUR", with_currency=True),
            "subject": "2026-11-25 as the customer wrote it",
            "currency": "EUR",
        }
    )
    written = {name: _spaced(value) for name, value in localised.items()}
    assert written == {
        "first_response_by": "25 novembre 2026, 10:00 (heure d’Europe centrale)",
        "resolve_by": "25 novembre 2026",
        "due_date": "10 décembre 2026",
        "amount": "49,90",
        "amount_with_currency": "49,90 €",
        "subject": "2026-11-25 as the customer wrote it",
        "currency": "EUR",
    }


def test_every_numbering_system_cldr_makes_a_default_has_its_digits():
    systems = {
        Locale.parse(name).default_numbering_system for name in localedata.locale_identifiers()
    }
    unknown = systems - {"latn", *NUMBERING_SYSTEM_ZERO}
    assert not unknown
    for system, zero in NUMBERING_SYSTEM_ZERO.items():
        assert [unicodedata.digit(chr(zero + d)) for d in range(10)] == list(range(10)), system


# --- right to left ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tag", "expected"),
    [
        ("ar", "rtl"),
        ("fa-IR", "rtl"),
        ("he", "rtl"),
        ("ku-Latn", "ltr"),
        ("pa-Arab", "rtl"),
        ("ja", "ltr"),
    ],
)
def test_direction_follows_the_language_or_its_script(tag, expected):
    assert direction(tag) == expected


@pytest.mark.parametrize("language", ["ar", "fa", "he"])
def test_right_to_left_html_sets_dir_lang_and_alignment_and_leaves_plain_text_alone(language):
    if language not in BUILT_IN["acknowledgement"]:
        pytest.skip(f"no built-in {language}")
    text = BUILT_IN["acknowledgement"][language]
    rendered = render("acknowledgement", language, text, VARIABLES["acknowledgement"])
    assert f'<html lang="{language}" dir="rtl">' in rendered.body_html
    assert (
        '<body dir="rtl" style="font-family: sans-serif; text-align: right">' in rendered.body_html
    )
    assert "dir=" not in rendered.body_text and "<" not in rendered.body_text
    assert "\u200f" not in rendered.body_text and "\u202b" not in rendered.body_text
    english = render(
        "acknowledgement", "en", BUILT_IN["acknowledgement"]["en"], VARIABLES["acknowledgement"]
    )
    assert (
        '<html lang="en" dir="ltr">' in english.body_html
        and "text-align: left" in english.body_html
    )
