"""Message templates per kind and language, rendered in a Jinja2 sandbox.

These are the built-in defaults; editable templates (``/v1/templates``) come with the
notification work. A language without a template falls back to the default language.
"""

from __future__ import annotations

from dataclasses import dataclass

from jinja2 import StrictUndefined
from jinja2.sandbox import SandboxedEnvironment

ACKNOWLEDGEMENT = "acknowledgement"
RESPONSE = "response"
DECISION = "decision"
SURVEY = "survey"


@dataclass(frozen=True)
class Template:
    """Subject and plain-text body of one message kind in one language."""

    subject: str
    body: str


BUILT_IN: dict[str, dict[str, Template]] = {
    ACKNOWLEDGEMENT: {
        "en": Template(
            subject="We received your complaint [{{ reference }}]",
            body=(
                "Dear {{ name or 'customer' }},\n\n"
                "thank you for telling us about this. We have registered your complaint"
                '{% if subject %} "{{ subject }}"{% endif %} under reference {{ reference }}.\n\n'
                "What happens next: a member of our team will review it and contact you by "
                "{{ first_response_by }} at the latest. We aim to resolve it by {{ resolve_by }}, "
                "and we will keep you informed at every step, including if anything takes longer.\n\n"
                "Please keep the reference {{ reference }} in the subject if you reply to this "
                "message.\n\nKind regards,\nCustomer Care\n"
            ),
        ),
        "ro": Template(
            subject="Am primit reclamația dumneavoastră [{{ reference }}]",
            body=(
                "Stimate/Stimată {{ name or 'client' }},\n\n"
                "vă mulțumim că ne-ați semnalat această problemă. Am înregistrat reclamația"
                "{% if subject %} „{{ subject }}”{% endif %} cu numărul de referință {{ reference }}.\n\n"
                "Ce urmează: un membru al echipei noastre o va analiza și vă va contacta cel târziu "
                "până la {{ first_response_by }}. Ne propunem să o rezolvăm până la {{ resolve_by }} "
                "și vă vom ține la curent la fiecare pas, inclusiv dacă ceva durează mai mult.\n\n"
                "Vă rugăm să păstrați referința {{ reference }} în subiect dacă răspundeți.\n\n"
                "Cu stimă,\nServiciul Clienți\n"
            ),
        ),
    }
}


BUILT_IN[RESPONSE] = {
    "en": Template(
        subject="About your complaint [{{ reference }}]",
        body="Dear {{ name or 'customer' }},\n\n{{ message }}\n\nKind regards,\nCustomer Care\n",
    ),
    "ro": Template(
        subject="Despre reclamația dumneavoastră [{{ reference }}]",
        body="Stimate/Stimată {{ name or 'client' }},\n\n{{ message }}\n\nCu stimă,\nServiciul Clienți\n",
    ),
}
BUILT_IN[DECISION] = {
    "en": Template(
        subject="Our decision on your complaint [{{ reference }}]",
        body=(
            "Dear {{ name or 'customer' }},\n\n"
            "{% if validity == 'justified' %}we have reviewed your complaint and agree with you."
            "{% elif validity == 'partly_justified' %}we have reviewed your complaint and agree with "
            "you in part."
            "{% else %}we have reviewed your complaint carefully and could not find a fault on our "
            "side.{% endif %}"
            "{% if explanation %}\n\n{{ explanation }}{% endif %}"
            "{% if way_forward %}\n\nWhat we can offer: {{ way_forward }}{% endif %}"
            "\n\nIf anything is unclear, reply to this e-mail and keep {{ reference }} in the "
            "subject.\n\nKind regards,\nCustomer Care\n"
        ),
    ),
    "ro": Template(
        subject="Decizia noastră privind reclamația [{{ reference }}]",
        body=(
            "Stimate/Stimată {{ name or 'client' }},\n\n"
            "{% if validity == 'justified' %}am analizat reclamația și vă dăm dreptate."
            "{% elif validity == 'partly_justified' %}am analizat reclamația și vă dăm dreptate "
            "în parte."
            "{% else %}am analizat cu atenție reclamația și nu am găsit o greșeală din partea "
            "noastră.{% endif %}"
            "{% if explanation %}\n\n{{ explanation }}{% endif %}"
            "{% if way_forward %}\n\nCe vă putem oferi: {{ way_forward }}{% endif %}"
            "\n\nDacă ceva nu este clar, răspundeți la acest e-mail păstrând {{ reference }} în "
            "subiect.\n\nCu stimă,\nServiciul Clienți\n"
        ),
    ),
}
BUILT_IN[SURVEY] = {
    "en": Template(
        subject="How did we do? [{{ reference }}]",
        body=(
            "Dear {{ name or 'customer' }},\n\nyour complaint {{ reference }} is now closed. "
            "Would you tell us how we handled it? It takes two minutes:\n{{ survey_url }}\n\n"
            "Kind regards,\nCustomer Care\n"
        ),
    ),
    "ro": Template(
        subject="Cum ne-am descurcat? [{{ reference }}]",
        body=(
            "Stimate/Stimată {{ name or 'client' }},\n\nreclamația {{ reference }} a fost "
            "închisă. Ne spuneți cum am gestionat-o? Durează două minute:\n{{ survey_url }}\n\n"
            "Cu stimă,\nServiciul Clienți\n"
        ),
    ),
}


class TemplateRenderer:
    """Renders built-in templates in a sandbox that cannot reach Python internals."""

    def __init__(self, default_language: str = "en") -> None:
        self._environment = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False)
        self._default_language = default_language

    def language_for(self, kind: str, preferred: str | None) -> str:
        """The language the message will be in: the customer's if we have it, else the default."""
        available = BUILT_IN[kind]
        primary = (preferred or "").split("-")[0].lower()
        return primary if primary in available else self._default_language

    def render(self, kind: str, language: str, context: dict) -> tuple[str, str]:
        """(subject, body) of message ``kind`` in ``language``."""
        template = BUILT_IN[kind][language]
        subject = self._environment.from_string(template.subject).render(context)
        body = self._environment.from_string(template.body).render(context)
        return " ".join(subject.split()), body
