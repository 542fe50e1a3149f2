"""Editable templates: GET/PUT /v1/templates, the sandbox, versions and right-to-left text."""

from __future__ import annotations

import uuid

import pytest
from notification_service.templates.model import ACKNOWLEDGEMENT, VARIABLES, TemplateText, render
from redress_shared.events import CASES_TOPIC
from redress_testing import assert_problem, eventually, produce


async def test_built_in_templates_are_listed_as_version_one(notifications_client):
    async def seeded():
        listed = (await notifications_client.get("/v1/templates")).json()
        return listed if len(listed) >= 9 * 2 else None

    listed = await eventually(seeded)
    by_key = {(t["kind"], t["language"]): t for t in listed}
    for kind in ["acknowledgement", "information_request", "delay_apology", "follow_up"]:
        assert {"en", "ro", "fa"} <= {language for k, language in by_key if k == kind}
    persian = by_key[("acknowledgement", "fa")]
    assert persian["direction"] == "rtl"
    assert persian["created_by"] == "built-in"
    assert "first_response_by" in persian["variables"]
    read = await notifications_client.get("/v1/templates/survey/lv")
    assert read.status_code == 200 and read.json()["direction"] == "ltr"


@pytest.mark.parametrize(
    ("body_text", "problem"),
    [
        ("{{ ''.__class__.__mro__ }}", "template-unsafe"),
        ("{{ cycler.__init__.__globals__ }}", "template-unsafe"),
        ("{% if false %}{{ name|attr('__class__') }}{% endif %}", "template-unsafe"),
        ("{{ 'x' * 100000000 }}", "template-unsafe"),
        ("Dear {{ name }", "template-syntax-error"),
        ("{% for x in message %}", "template-syntax-error"),
        ("Your IBAN is {{ iban }}", "template-undefined-variable"),
        ("{{ message|no_such_filter }}", "template-syntax-error"),
    ],
)
async def test_a_bad_template_is_refused_and_nothing_is_stored(
    notifications_client, body_text, problem
):
    before = (await notifications_client.get("/v1/templates/response/en")).json()
    answer = await notifications_client.put(
        "/v1/templates/response/en",
        json={"subject": "About [{{ reference }}]", "body_text": body_text},
    )
    assert_problem(answer, 422, problem)
    assert (await notifications_client.get("/v1/templates/response/en")).json() == before


async def test_unknown_kind_and_bad_language_are_problems(notifications_client):
    body = {"subject": "s", "body_text": "b"}
    assert_problem(
        await notifications_client.put("/v1/templates/newsletter/en", json=body),
        404,
        "unknown-template-kind",
    )
    assert_problem(
        await notifications_client.put("/v1/templates/response/EN-gb", json=body),
        422,
        "invalid-language",
    )
    assert_problem(await notifications_client.get("/v1/templates/response/xx"), 404, "not-found")
    assert_problem(
        await notifications_client.put("/v1/templates/response/en", json={"subject": "s"}),
        422,
        "validation-error",
    )


async def test_writing_templates_needs_the_templates_write_scope(notifications_client):
    created = await notifications_client.post(
        "/v1/api-keys", json={"name": "care-reader", "scopes": ["notifications:read"]}
    )
    headers = {"Authorization": f"Bearer {created.json()['key']}"}
    assert (await notifications_client.get("/v1/templates", headers=headers)).status_code == 200
    refused = await notifications_client.put(
        "/v1/templates/response/en",
        json={"subject": "s [{{ reference }}]", "body_text": "b"},
        headers=headers,
    )
    assert refused.status_code == 403
    assert refused.json()["required_scope"] == "templates:write"


async def test_a_template_change_applies_to_later_messages_only(
    notifications_client, smtp_server, infra, case_story, settled_notifications, text_of
):
    """A new language gets its first version; a message before the change keeps version 1 of
    the fallback, the next one uses the new text and records its version."""
    server, _ = smtp_server
    language = "id"  # no built-in Indonesian: falls back to English until a template exists
    address = f"budi.{uuid.uuid4().hex[:8]}@example.com"
    story = case_story(address, language=language)
    await produce(infra.kafka_bootstrap_servers, CASES_TOPIC, story.opened)
    (ack,) = await settled_notifications(notifications_client, story.case_id, 1)
    assert (ack["language"], ack["template_version"]) == ("en", 1)

    marker = uuid.uuid4().hex
    put = await notifications_client.put(
        f"/v1/templates/response/{language}",
        json={
            "subject": "Tentang keluhan Anda [{{ reference }}]",
            "body_text": f"Yth. {{{{ name }}}},\n\n{{{{ message }}}}\n\n{marker}\n",
            "body_html": "<p>Yth. {{ name }},</p><p>{{ message }}</p>",
        },
    )
    assert put.status_code == 200, put.text
    assert put.json()["version"] == 1 and put.json()["created_by"] == "admin"
    second = await notifications_client.put(
        f"/v1/templates/response/{language}",
        json={
            "subject": "Tentang keluhan Anda [{{ reference }}]",
            "body_text": f"Yth. {{{{ name }}}},\n\n{{{{ message }}}}\n\n{marker}-v2\n",
            "body_html": "<p>Yth. {{ name }},</p><p>{{ message }}</p>",
        },
    )
    assert second.json()["version"] == 2

    await produce(
        infra.kafka_bootstrap_servers,
        CASES_TOPIC,
        story.response("<b>Pengisi daya baru</b> tiba besok."),
    )
    listed = await settled_notifications(notifications_client, story.case_id, 2)
    response = next(n for n in listed if n["template"] == "response")
    assert (response["language"], response["template_version"]) == (language, 2)
    mail = next(m for m in server.to(address) if "Tentang keluhan Anda" in m["Subject"])
    assert f"{marker}-v2" in text_of(mail)
    html_part = mail.get_body(preferencelist=("html",)).get_content()
    assert '<html lang="id" dir="ltr">' in html_part
    # The customer-visible variable is escaped in HTML, never interpreted.
    assert "&lt;b&gt;Pengisi daya baru&lt;/b&gt;" in html_part


async def test_persian_messages_render_right_to_left(
    notifications_client, smtp_server, infra, case_story, settled_notifications, text_of
):
    server, _ = smtp_server
    address = f"sara.{uuid.uuid4().hex[:8]}@example.com"
    story = case_story(address, language="fa-IR")
    await produce(infra.kafka_bootstrap_servers, CASES_TOPIC, story.opened)
    (ack,) = await settled_notifications(notifications_client, story.case_id, 1)
    assert ack["language"] == "fa"
    (mail,) = server.to(address)
    assert "شکایت شما را دریافت کردیم" in mail["Subject"]
    assert story.reference in mail["Subject"]
    assert "با شماره پیگیری " + story.reference in text_of(mail)
    html_part = mail.get_body(preferencelist=("html",)).get_content()
    assert '<html lang="fa" dir="rtl">' in html_part
    assert '<body dir="rtl"' in html_part


async def test_a_template_that_fails_on_real_data_falls_back_to_the_built_in_text(
    notifications_client, smtp_server, infra, case_story, settled_notifications, text_of
):
    """The trial render takes the sample values' branch; real data can take another. The
    customer still gets the message, from the built-in text, and the version says so."""
    from redress_shared.events import CASE_DECISION_RECORDED, CaseDecisionRecordedV1, new_event

    server, _ = smtp_server
    put = await notifications_client.put(
        "/v1/templates/decision/de",
        json={
            "subject": "Unsere Entscheidung [{{ reference }}]",
            "body_text": "{% if validity == 'unjustified' %}{{ explanation.missing.deeper }}"
            "{% else %}Sie haben recht.{% endif %}",
        },
    )
    assert put.status_code == 200, put.text
    address = f"jonas.{uuid.uuid4().hex[:8]}@example.com"
    story = case_story(address, language="de")
    decision = new_event(
        source="/test",
        type=CASE_DECISION_RECORDED,
        key=str(story.case_id),
        payload=CaseDecisionRecordedV1(
            case_id=story.case_id,
            reference=story.reference,
            validity="unjustified",
            explanation="Wrong adapter.",
            way_forward="A discount.",
            decided_by="lead",
            occurred_at=story.at,
        ),
        time=story.at,
    )
    await produce(infra.kafka_bootstrap_servers, CASES_TOPIC, story.opened, decision)
    listed = await settled_notifications(notifications_client, story.case_id, 2)
    sent = next(n for n in listed if n["template"] == "decision")
    # The built-in German text, the customer's language, says it.
    assert (sent["status"], sent["language"], sent["template_version"]) == ("sent", "de", 1)
    mail = next(m for m in server.to(address) if "Unsere Entscheidung" in m["Subject"])
    assert "keinen Fehler auf unserer Seite" in text_of(mail)


def test_the_html_part_of_a_text_template_escapes_each_character_once():
    text = TemplateText(subject="About {{ reference }}", body_text="Dear {{ name }},\n\nThanks.")
    values = VARIABLES[ACKNOWLEDGEMENT] | {"name": 'Tom & "Jerry" <Ltd>'}
    rendered = render(ACKNOWLEDGEMENT, "en", text, values)
    assert "<p>Dear Tom &amp; &quot;Jerry&quot; &lt;Ltd&gt;,</p>" in rendered.body_html
    assert "&amp;amp;" not in rendered.body_html
