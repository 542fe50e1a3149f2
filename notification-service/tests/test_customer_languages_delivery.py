"""Customer languages end to end inside the service (real PostgreSQL, broker and SMTP
stand-in): a Japanese, an Arabic and a Greek customer each get their acknowledgement in their
own language, with the due time in their own time zone and locale; the fallback order (the
customer's language, its base language, the desk's default, English); a desk's own template
before the built-in text; amounts in the locale's digits."""

from __future__ import annotations

import uuid

import pytest
from notification_service import consumers
from notification_service.messages.model import EMAIL, Messaging
from redress_shared.events import CASES_TOPIC
from redress_testing import produce


def _spaced(text: str) -> str:
    """CLDR puts no-break spaces inside dates and amounts: compared as plain spaces."""
    return " ".join(text.split())


def _html(mail) -> str:  # noqa: ANN001
    return mail.get_body(preferencelist=("html",)).get_content()


@pytest.mark.parametrize(
    ("language", "time_zone", "subject", "greeting", "due", "direction"),
    [
        (
            "ja",
            "Asia/Tokyo",
            "お申し出を受け付けました",
            "Ana Pop 様",
            "2026年11月25日 18:00 (日本時間)",
            "ltr",
        ),
        (
            "ar",
            "Asia/Riyadh",
            "تلقّينا شكواك",
            "عزيزي/عزيزتي Ana Pop،",
            "25 نوفمبر 2026، 12:00 م (التوقيت العربي)",
            "rtl",
        ),
        (
            "el",
            "Europe/Athens",
            "Λάβαμε το παράπονό σας",
            "Αγαπητέ/ή Ana Pop,",
            "25 Νοεμβρίου 2026 - 11:00 π.μ. (Ώρα Ανατολικής Ευρώπης)",
            "ltr",
        ),
    ],
)
async def test_each_customer_is_acknowledged_in_their_own_language_and_time_zone(
    notifications_client,
    smtp_server,
    infra,
    case_story,
    settled_notifications,
    text_of,
    language,
    time_zone,
    subject,
    greeting,
    due,
    direction,
):
    server, _ = smtp_server
    address = f"customer.{uuid.uuid4().hex[:8]}@example.com"
    story = case_story(address, language=language, time_zone=time_zone)
    await produce(infra.kafka_bootstrap_servers, CASES_TOPIC, story.opened)

    (ack,) = await settled_notifications(notifications_client, story.case_id, 1)
    assert (ack["status"], ack["language"], ack["template_version"]) == ("sent", language, 1)
    (mail,) = server.to(address)
    assert mail["Subject"] == f"{subject} [{story.reference}]"
    assert mail["Content-Language"] == language
    text = text_of(mail)
    assert text.startswith(greeting)
    assert story.reference in text
    assert due in _spaced(text)  # opened 09:00 UTC, first response two days later
    html_part = _html(mail)
    assert f'<html lang="{language}" dir="{direction}">' in html_part
    assert f'<body dir="{direction}"' in html_part
    assert f"text-align: {'right' if direction == 'rtl' else 'left'}" in html_part
    assert "<" not in text and "dir=" not in text  # the plain-text part is only text


def _messaging(client, **settings) -> Messaging:
    runtime = client.app.state.runtime
    return Messaging(
        runtime.clock, runtime.settings.model_copy(update=settings), "redress.example", (EMAIL,)
    )


async def _open_with(client, messaging: Messaging, story) -> None:  # noqa: ANN001
    """Run the consumer's handler for ``story.opened`` with ``messaging``'s settings."""
    handle = consumers.handlers(messaging.clock, messaging)[story.opened.type]
    async with client.app.state.runtime.session_factory() as session, session.begin():
        await handle(session, story.opened)


@pytest.mark.parametrize(
    ("customer", "desk", "language", "phrase"),
    [
        # A regional tag falls back to its base language, formatted for its region.
        ("pt-BR", "de", "pt", "até 25 de novembro de 2026 10:00 (Horário da Europa Central)"),
        # No Serbian text: the desk's default language, in the desk's time zone.
        ("sr-Latn-RS", "de", "de", "bis zum 25. November 2026, 10:00 (Mitteleuropäische Zeit)"),
        # Neither the customer's nor the desk's language has a text: English.
        ("id", "sw", "en", "by November 25, 2026, 10:00 AM (Central European Time)"),
    ],
)
async def test_the_fallback_order_is_customer_then_desk_then_english(
    notifications_client,
    smtp_server,
    case_story,
    settled_notifications,
    text_of,
    customer,
    desk,
    language,
    phrase,
):
    server, _ = smtp_server
    messaging = _messaging(
        notifications_client, default_language=desk, default_time_zone="Europe/Berlin"
    )
    address = f"customer.{uuid.uuid4().hex[:8]}@example.com"
    story = case_story(address, language=customer)
    await _open_with(notifications_client, messaging, story)

    (ack,) = await settled_notifications(notifications_client, story.case_id, 1)
    assert ack["language"] == language
    (mail,) = server.to(address)
    assert phrase in _spaced(text_of(mail))


async def test_a_desks_own_template_comes_before_the_built_in_text(
    notifications_client, smtp_server, infra, case_story, settled_notifications, text_of
):
    server, _ = smtp_server
    marker = uuid.uuid4().hex
    put = await notifications_client.put(
        "/v1/templates/acknowledgement/ko",
        json={
            "subject": "접수 완료 [{{ reference }}]",
            "body_text": f"{{{{ name }}}}님, {{{{ first_response_by }}}}까지 연락드리겠습니다. {marker}",
        },
    )
    assert put.status_code == 200, put.text
    assert put.json()["version"] == 2  # version 1 is the built-in Korean text
    address = f"customer.{uuid.uuid4().hex[:8]}@example.com"
    story = case_story(address, language="ko-KR", time_zone="Asia/Seoul")
    await produce(infra.kafka_bootstrap_servers, CASES_TOPIC, story.opened)

    (ack,) = await settled_notifications(notifications_client, story.case_id, 1)
    assert (ack["language"], ack["template_version"]) == ("ko", 2)
    (mail,) = server.to(address)
    text = _spaced(text_of(mail))
    assert marker in text and "2026년 11월 25일 오후 6:00 (한국 시간)까지" in text


async def test_a_regional_template_of_the_desk_is_used_for_that_region(
    notifications_client, smtp_server, infra, case_story, settled_notifications, text_of
):
    put = await notifications_client.put(
        "/v1/templates/response/pt-BR",
        json={"subject": "Sobre sua reclamação [{{ reference }}]", "body_text": "{{ message }}"},
    )
    assert put.status_code == 200, put.text
    assert (put.json()["language"], put.json()["version"]) == ("pt-BR", 1)
    brazil = case_story(f"br.{uuid.uuid4().hex[:8]}@example.com", language="pt-BR")
    portugal = case_story(f"pt.{uuid.uuid4().hex[:8]}@example.com", language="pt-PT")
    await produce(
        infra.kafka_bootstrap_servers,
        CASES_TOPIC,
        brazil.opened,
        brazil.response("Já enviamos o carregador."),
        portugal.opened,
        portugal.response("Já enviámos o carregador."),
    )
    for story, language in ((brazil, "pt-BR"), (portugal, "pt")):
        listed = await settled_notifications(notifications_client, story.case_id, 2)
        response = next(n for n in listed if n["template"] == "response")
        assert response["language"] == language


async def test_an_offered_amount_is_written_in_the_customers_digits_and_currency(
    notifications_client, smtp_server, infra, case_story, settled_notifications, text_of
):
    server, _ = smtp_server
    address = f"sara.{uuid.uuid4().hex[:8]}@example.com"
    story = case_story(address, language="fa-IR", time_zone="Asia/Tehran")
    offer = story.remedy(uuid.uuid4(), "refund", "offered", story.at, "1249.90", "EUR")
    await produce(infra.kafka_bootstrap_servers, CASES_TOPIC, story.opened, offer)

    listed = await settled_notifications(notifications_client, story.case_id, 2)
    assert {n["language"] for n in listed} == {"fa"}
    (mail,) = [m for m in server.to(address) if "پیشنهاد ما" in m["Subject"]]
    # Persian digits, Persian decimal and group signs, the euro sign (CLDR).
    assert "بازپرداخت وجه به مبلغ ‎€ ۱٬۲۴۹٫۹۰" in _spaced(text_of(mail))
