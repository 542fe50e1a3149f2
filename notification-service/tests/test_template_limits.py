"""Hostile templates: refused at save with a clear 422 in bounded CPU, and a stored one that
breaks a limit on real data falls back to the built-in text without stalling the consumer.

The CPU bounds below (``time.process_time()``) are generous on purpose: they tell a hang or
an exhausted machine (minutes, gigabytes) from a refusal, not a fast machine from a slow one.
"""

from __future__ import annotations

import time
import uuid

import pytest
from notification_service.templates.model import (
    MAX_RENDER_STEPS,
    TemplateLimitExceeded,
    TemplateText,
    UnsafeTemplate,
    render,
    validate,
)
from redress_shared.events import CASE_DECISION_RECORDED, CASES_TOPIC, CaseDecisionRecordedV1
from redress_shared.events import new_event as make_event
from redress_testing import assert_problem, produce

#: CPU seconds a refusal may take at most: a hang would take minutes, not this.
HANG_BOUND_SECONDS = 10.0

HOSTILE = {
    "nested loops": "{% for a in message %}{% for b in message %}{% for c in message %}x"
    "{% endfor %}{% endfor %}{% endfor %}",
    "nested loops without output": "{% for a in message %}{% for b in message %}"
    "{% endfor %}{% endfor %}",
    "center(200000000)": "{{ name|center(200000000) }}",
    "the center method": "{{ name.center(200000000) }}",
    "a filter block": "{% filter center(200000000) %}x{% endfilter %}",
    "mapped huge argument": "{{ message|map('center', 200000000)|list }}",
    "slice into millions": "{{ message|slice(100000000)|list }}",
    "a %-format width": "{{ '%0200000000d' % 1 }}",
    "the format filter": "{{ '%0200000000d'|format(1) }}",
    "str.format width": "{{ '{:>200000000}'.format(name) }}",
    "join with itself": "{{ message|join(message) }}",
    "the join method": "{{ message.join(message) }}",
    "replace the empty string": "{{ message|replace('', message) }}",
    "indent by the text": "{{ message|indent(message) }}",
    "wrap with the text": "{{ message|wordwrap(1, wrapstring=message) }}",
    "doubling by ~": "{% set a = message ~ message %}{% set b = a ~ a %}{% set c = b ~ b %}"
    "{% set d = c ~ c %}{% set e = d ~ d %}{% set f = e ~ e %}{{ f }}",
    "doubling by +": "{% set a = message + message %}{% set b = a + a %}{% set c = b + b %}"
    "{% set d = c + c %}{% set e = d + d %}{{ e + e }}",
    "output in a loop": "{% for c in message %}{{ message }}{% endfor %}",
    "macro recursion": "{% macro f(n) %}{{ f(n) }}{% endmacro %}{{ f(1) }}",
    "exponential macros": "{% macro f(s) %}{% if s|length < 40 %}{{ f(s ~ 'a') }}"
    "{{ f(s ~ 'b') }}{% endif %}{% endmacro %}{{ f('') }}",
    "batches of batches": "{% for x in message|batch(1) %}{% for y in message|batch(1) %}"
    "{{ y }}{% endfor %}{% endfor %}",
}


@pytest.mark.parametrize("body_text", HOSTILE.values(), ids=list(HOSTILE))
def test_a_hostile_template_is_refused_in_bounded_cpu(body_text):
    started = time.process_time()
    with pytest.raises(TemplateLimitExceeded):
        validate("response", TemplateText("About [{{ reference }}]", body_text))
    assert time.process_time() - started < HANG_BOUND_SECONDS


@pytest.mark.parametrize(
    "body_text",
    [
        "{{ 'x' * 1000000000 }}",
        "{{ 'x' * 10**9 }}",
        "{{ [name] * 1000000000 }}",
        "{% for x in message recursive %}{{ loop(x) }}{% endfor %}",
    ],
)
def test_repetition_power_and_recursive_loops_are_unsafe(body_text):
    started = time.process_time()
    with pytest.raises(UnsafeTemplate):
        validate("response", TemplateText("About [{{ reference }}]", body_text))
    assert time.process_time() - started < HANG_BOUND_SECONDS


def test_a_template_within_the_limits_is_accepted_at_the_largest_values():
    """Loops, filters and formatting are fine while they stay within the limits, also with
    every variable at its largest."""
    ordinary = TemplateText(
        "About [{{ reference }}]",
        "{{ name|center(40) }}\n{% for line in message.splitlines() %}> {{ line|wordwrap(60) }}\n"
        "{% endfor %}{{ '%05d'|format(42) }} {{ message|replace('a', 'b')|truncate(100) }}",
        "<p>{% for word in message.split()[:50] %}{{ word|upper }} {% endfor %}</p>",
    )
    validate("response", ordinary)


def test_a_render_stops_at_the_step_budget_on_real_data():
    """What the trial renders did not reach (a branch), real data can: the render stops."""
    text = TemplateText(
        "Decision [{{ reference }}]",
        "{% if validity == 'unjustified' %}{% for a in explanation %}{% for b in explanation %}"
        "{% endfor %}{% endfor %}{% endif %}Done.",
    )
    validate("decision", text)  # the samples and the largest values skip the branch
    context = {
        "name": "Ana",
        "reference": "RDR-1",
        "validity": "unjustified",
        "explanation": "x" * (int(MAX_RENDER_STEPS**0.5) + 50),
        "way_forward": None,
    }
    started = time.process_time()
    with pytest.raises(TemplateLimitExceeded):
        render("decision", "en", text, context)
    assert time.process_time() - started < HANG_BOUND_SECONDS


@pytest.mark.parametrize(
    "body_text",
    [HOSTILE["nested loops"], HOSTILE["center(200000000)"], HOSTILE["exponential macros"]],
    ids=["nested loops", "center(200000000)", "exponential macros"],
)
async def test_the_api_refuses_a_hostile_template_with_a_422(notifications_client, body_text):
    before = (await notifications_client.get("/v1/templates/response/en")).json()
    started = time.process_time()
    answer = await notifications_client.put(
        "/v1/templates/response/en",
        json={"subject": "About [{{ reference }}]", "body_text": body_text},
    )
    assert time.process_time() - started < HANG_BOUND_SECONDS
    assert_problem(answer, 422, "template-limit-exceeded")
    assert (await notifications_client.get("/v1/templates/response/en")).json() == before


async def test_a_stored_template_over_its_limits_on_real_data_falls_back_to_the_built_in(
    notifications_client, smtp_server, infra, case_story, settled_notifications, text_of
):
    """The consumer is not stalled: the message goes out from the built-in text (version 1)
    and the case's next event is handled as usual."""
    server, _ = smtp_server
    put = await notifications_client.put(
        "/v1/templates/decision/nl",
        json={
            "subject": "Ons besluit [{{ reference }}]",
            "body_text": "{% if validity == 'unjustified' %}{% for a in explanation %}"
            "{% for b in explanation %}{{ b }}{% endfor %}{% endfor %}{% endif %}U heeft gelijk.",
        },
    )
    assert put.status_code == 200, put.text
    address = f"daan.{uuid.uuid4().hex[:8]}@example.com"
    story = case_story(address, language="nl")
    decision = make_event(
        source="/test",
        type=CASE_DECISION_RECORDED,
        key=str(story.case_id),
        payload=CaseDecisionRecordedV1(
            case_id=story.case_id,
            reference=story.reference,
            validity="unjustified",
            explanation="The adapter was not ours. " * 10,
            way_forward="A discount.",
            decided_by="lead",
            occurred_at=story.at,
        ),
        time=story.at,
    )
    await produce(
        infra.kafka_bootstrap_servers,
        CASES_TOPIC,
        story.opened,
        decision,
        story.response("We are sending a new adapter."),
    )
    listed = await settled_notifications(notifications_client, story.case_id, 3)
    sent = next(n for n in listed if n["template"] == "decision")
    assert (sent["status"], sent["language"], sent["template_version"]) == ("sent", "nl", 1)
    assert next(n for n in listed if n["template"] == "response")["status"] == "sent"
    mail = next(m for m in server.to(address) if "Ons besluit over uw klacht" in m["Subject"])
    assert "geen fout aan onze kant" in text_of(mail)
