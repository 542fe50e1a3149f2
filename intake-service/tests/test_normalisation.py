"""Normalisation rules without I/O: language identification, categories, references, phones."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from intake_service.complaints.model import (
    InvalidComplaint,
    SocialIdentity,
    build_customer,
    customer_key,
    normalise_phone,
)
from intake_service.normalisation.model import (
    classify,
    detect_language,
    extract_order_ref,
    extract_sku,
    identify_language,
    supported_languages,
    with_declared,
)

# Natural complaint sentences, one per language, written for these tests.
SENTENCES = {
    "lv": "Mans internets nedarbojas jau trīs dienas, lūdzu, atrisiniet to pēc iespējas ātrāk!",
    "fa": "سفارش من دو هفته پیش ارسال شد ولی هنوز به دستم نرسیده است.",
    "ro": "Încărcătorul s-a stricat după două zile și nimeni nu îmi răspunde la telefon.",
    "sl": "Paket še vedno ni prispel, čeprav sem ga naročila pred dvema tednoma.",
    "en": "You charged me twice for the same invoice and I want my money back.",
    "ja": "注文した商品がまだ届いていません。確認してください。",
    "ar": "لم يصل طلبي حتى الآن رغم مرور أسبوعين.",
    "el": "Το δέμα μου δεν έχει παραδοθεί ακόμα, παρακαλώ ελέγξτε.",
}


@pytest.mark.parametrize("language", sorted(SENTENCES))
def test_detects_the_language_of_a_complaint(language):
    assert detect_language(SENTENCES[language]) == language


def test_supported_languages_cover_the_markets():
    supported = set(supported_languages())
    assert {"lv", "fa", "ro", "sl", "en", "ja", "ar", "el", "he", "ka", "hy", "th"} <= supported
    assert len(supported) >= 60


def test_identification_says_how_sure_it_is_and_what_decided():
    found = identify_language(SENTENCES["el"])
    assert (found.language, found.method) == ("el", "cld2")
    assert 0.5 < found.confidence <= 1
    unsure = identify_language("Nu merge.")
    assert (unsure.language, unsure.confidence, unsure.method) == (None, 0.0, "unsure")


def test_the_declared_language_settles_unsure_texts_and_close_relatives():
    assert with_declared(None, "ro") == "ro"
    assert with_declared("cs", "sk") == "sk"  # a short Slovak text reads as Czech
    assert with_declared("ms", "id") == "id"
    assert with_declared("de", "ro") == "de"  # not relatives: the text's language wins


def test_the_language_model_loads_offline_from_the_wheel(tmp_path):
    """No download at run time: with every proxy pointing at a closed port and an empty
    cache folder, the fastText model loads (from the wheel) and nothing is cached."""
    script = (
        "from intake_service.normalisation.model import _by_fasttext, warm_up\n"
        "warm_up()\n"
        "print(_by_fasttext('Le colis n est toujours pas arrivé chez moi.').language)"
    )
    closed = "http://127.0.0.1:9"
    env = {
        **os.environ,
        "HTTP_PROXY": closed,
        "HTTPS_PROXY": closed,
        "ALL_PROXY": closed,
        "FTLANG_CACHE": str(tmp_path / "cache"),
    }
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "fr"
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").iterdir())


def test_detection_is_unsure_on_nothing_and_on_one_word():
    assert detect_language("   ") is None
    assert detect_language("Nu merge.") is None  # too short to tell: the declared one is used


@pytest.mark.parametrize(
    ("text", "category", "hint"),
    [
        # outage -> urgent, in each language
        ("Mans internets nedarbojas jau trīs dienas.", "outage", "urgent"),
        ("اینترنت ما از دیروز قطع است.", "outage", "urgent"),
        ("Nu avem internet de ieri, internetul nu funcționează deloc.", "outage", "urgent"),
        ("Že od jutra ni interneta, imamo izpad v celi ulici.", "outage", "urgent"),
        (
            "There has been an outage since 6 am, no internet in the whole street.",
            "outage",
            "urgent",
        ),
        # delivery
        ("Sūtījums joprojām nav piegādāts, kurjers nezvanīja.", "delivery", None),
        ("بسته من هنوز نرسیده است.", "delivery", None),
        ("Coletul nu a ajuns, curierul nu a sunat.", "delivery", None),
        ("Paket ni prispel, dostava zamuja že teden dni.", "delivery", None),
        ("My parcel never arrived and the tracking has not moved.", "delivery", None),
        # billing
        ("Rēķinā naudu iekasēja divreiz.", "billing_error", None),
        ("مبلغ قبض دو بار از حساب من کسر شد.", "billing_error", None),
        ("Mi-ați trimis factura de două ori, vreau rambursarea.", "billing_error", None),
        ("Račun ste mi zaračunali dvakrat.", "billing_error", None),
        ("You charged me twice on this invoice.", "billing_error", None),
        # product defect
        ("Lādētājs salūza pēc divām dienām.", "product_defect", None),
        ("شارژر بعد از دو روز خراب شد.", "product_defect", None),
        ("Încărcătorul s-a stricat după două zile.", "product_defect", None),
        ("Polnilec se je pokvaril po dveh dneh.", "product_defect", None),
        ("The kettle stopped working after two days, it is faulty.", "product_defect", None),
        # staff behaviour
        ("Veikala darbinieks bija ļoti rupjš un nepieklājīgs.", "staff_behaviour", None),
        ("کارمند فروشگاه به من توهین کرد.", "staff_behaviour", None),
        ("Vânzătorul a fost nepoliticos și m-a jignit.", "staff_behaviour", None),
        ("Prodajalka je bila zelo nesramna in neprijazna.", "staff_behaviour", None),
        ("The agent on the phone was rude and unprofessional.", "staff_behaviour", None),
    ],
)
def test_categories_per_language(text, category, hint):
    result = classify(text)
    assert (result.category, result.priority_hint) == (category, hint), result.matches


@pytest.mark.parametrize(
    "text",
    [
        "Ja nauda netiks atmaksāta, vērsīšos tiesā.",
        "اگر پولم را پس ندهید به دادگاه شکایت می‌کنم و وکیل می‌گیرم.",
        "Dacă nu primesc banii înapoi, mă adresez la ANPC și vă dau în judecată.",
        "Če ne dobim vračila, bom vložila tožbo na sodišču.",
        "If this is not refunded I will take legal action and call my lawyer.",
    ],
)
def test_a_legal_threat_raises_the_priority(text):
    result = classify(text)
    assert result.legal_threat
    assert result.priority_hint == "high"


def test_an_explicit_category_wins_but_the_hint_still_counts():
    result = classify("The internet is down and I will call my lawyer.", "billing_error")
    assert result.category == "billing_error"
    assert result.priority_hint == "high"
    assert "outage" in result.matches


def test_nothing_recognised_gives_no_category():
    assert classify("Hello, I have a question.").category is None


@pytest.mark.parametrize(
    ("text", "order"),
    [
        ("Comanda SO-1042 nu a sosit.", "SO-1042"),
        ("my order so 1042 was late", "SO-1042"),
        ("Naročilo št. 88123 še ni prispelo.", "88123"),
        ("Pasūtījums nr. 55012 nav piegādāts.", "55012"),
        ("سفارش شماره ۱۰۴۲ هنوز نرسیده است", "1042"),
        ("Order number: A-99812", None),  # must start with a digit after the word
        ("No reference here.", None),
    ],
)
def test_order_numbers_are_pulled_from_the_text(text, order):
    assert extract_order_ref(text) == order


def test_labelled_skus_are_pulled_from_the_text():
    assert extract_sku("The charger (SKU: ch-20) broke.") == "CH-20"
    assert extract_sku("Codul produsului: 123") == "123"
    assert extract_sku("cod produs KT-100 defect") == "KT-100"
    assert extract_sku("Preces kods: LV-7") == "LV-7"
    assert extract_sku("SKU unknown, sorry") is None  # a word is not a code


def test_phone_numbers_become_e164_or_are_refused():
    assert normalise_phone("+371 2000 0000") == "+37120000000"
    assert normalise_phone("020 7946 0000", "gb") == "+442079460000"
    with pytest.raises(InvalidComplaint) as refused:
        normalise_phone("not a number", field_name="caller_number")
    assert refused.value.field == "caller_number"


def test_a_social_handle_is_an_identity_per_platform():
    one = customer_key(None, None, SocialIdentity.of("x", "@Ana_Pop"))
    assert one == customer_key(None, None, SocialIdentity.of("X", "ana_pop"))
    assert one != customer_key(None, None, SocialIdentity.of("instagram", "ana_pop"))
    # An e-mail address, when known, is the stronger identity.
    customer = build_customer(
        name=None,
        email="Ana@Example.com",
        phone=None,
        language=None,
        social=SocialIdentity.of("x", "ana_pop"),
    )
    assert customer.key == customer_key("ana@example.com", None)
    assert customer.document()["social"] == {"platform": "x", "handle": "ana_pop"}
