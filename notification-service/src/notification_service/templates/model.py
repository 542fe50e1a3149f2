"""Message templates: the kinds of message we send, the variables each may use, and their
rendering in a Jinja2 sandbox (pure: no I/O; the stored versions are ``store.py``'s).

Undefined-variable policy: a template may use only the variables documented for its kind
(:data:`VARIABLES`); anything else is refused when the template is saved, and rendering uses
``StrictUndefined``, so a message is never sent with a silently empty hole. Optional
variables (the complaint's subject, an explanation) are always defined, possibly as ``None``:
test them with ``{% if %}``.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from datetime import datetime

from jinja2 import StrictUndefined, TemplateSyntaxError, meta, nodes
from jinja2.exceptions import SecurityError, UndefinedError
from jinja2.sandbox import ImmutableSandboxedEnvironment
from markupsafe import Markup
from redress_shared.errors import DomainError

ACKNOWLEDGEMENT = "acknowledgement"
INFORMATION_REQUEST = "information_request"
INVESTIGATING = "investigating"
RESOLVED = "resolved"
DELAY_APOLOGY = "delay_apology"
RESPONSE = "response"
DECISION = "decision"
REMEDY = "remedy"
SURVEY = "survey"
FOLLOW_UP = "follow_up"

_COMMON = {"name": "Ana Pop", "reference": "RDR-2026-000123"}

#: Every kind of customer message, with the variables its templates may use and a sample
#: value of each (shown in the API and used for the trial render when a template is saved).
VARIABLES: dict[str, dict[str, object]] = {
    ACKNOWLEDGEMENT: {
        **_COMMON,
        "subject": "Broken charger",
        "first_response_by": "2026-11-25 09:00 UTC",
        "resolve_by": "2026-12-07",
    },
    INFORMATION_REQUEST: {**_COMMON, "question": "Please send a photo of the serial number."},
    INVESTIGATING: dict(_COMMON),
    RESOLVED: {**_COMMON, "resolution": "A replacement charger is on its way (tracking RO123)."},
    DELAY_APOLOGY: {
        **_COMMON,
        "deadline": "resolve",
        "missed_at": "2026-12-07 17:00 UTC",
        "new_time": "2026-12-09 17:00 UTC",
    },
    RESPONSE: {**_COMMON, "message": "We are sending you a new charger today."},
    DECISION: {
        **_COMMON,
        "validity": "partly_justified",
        "explanation": "The cable was faulty; the adapter was not ours.",
        "way_forward": "A 30 % discount on a compatible adapter.",
    },
    REMEDY: {
        **_COMMON,
        "remedy_type": "refund",
        "amount": "49.90",
        "currency": "EUR",
        "method": "bank transfer",
        "due_date": "2026-12-10",
    },
    SURVEY: {**_COMMON, "survey_url": "https://feedback.redress.example/survey/RDR-2026-000123"},
    FOLLOW_UP: {**_COMMON, "resolved_on": "2026-12-01"},
}
KINDS = tuple(VARIABLES)

#: Primary language subtags written right to left.
RTL_LANGUAGES = frozenset({"ar", "arc", "dv", "fa", "he", "ku", "ps", "sd", "ug", "ur", "yi"})

LANGUAGE_PATTERN = re.compile(r"^[a-z]{2,3}$")
MAX_RENDERED_CHARS = 100_000
BUILT_IN_AUTHOR = "built-in"


@dataclass(frozen=True)
class TemplateText:
    """What an operator writes for one kind in one language: the subject, the plain-text body
    and optionally an HTML body (without the surrounding document, which we add)."""

    subject: str
    body_text: str
    body_html: str | None = None


@dataclass(frozen=True)
class RenderedMessage:
    """One message ready for a channel: subject, text and the complete HTML document."""

    subject: str
    body_text: str
    body_html: str


@dataclass(frozen=True)
class StoredTemplate:
    """One version of a template."""

    kind: str
    language: str
    version: int
    text: TemplateText
    created_at: datetime | None
    created_by: str


class UnknownTemplateKind(DomainError):
    """There is no such kind of message."""

    def __init__(self, kind: str) -> None:
        super().__init__(f"'{kind}' is not one of {', '.join(KINDS)}")


class InvalidLanguage(DomainError):
    """A template's language is not a primary language subtag."""

    def __init__(self, language: str) -> None:
        super().__init__(
            f"'{language}' is not a primary language subtag (two or three lower-case letters)"
        )


class TemplateError(DomainError):
    """A template cannot be used; ``part`` says where (subject, body_text, body_html, template).
    Each subclass is one stable problem type."""

    def __init__(self, part: str, detail: str) -> None:
        super().__init__(f"{part}: {detail}", part=part)
        self.part = part


class InvalidTemplateSyntax(TemplateError):
    """The template does not parse."""


class UndefinedTemplateVariable(TemplateError):
    """The template uses a variable its kind does not have."""


class UnsafeTemplate(TemplateError):
    """The template reaches for Python internals or for an operator we refuse."""


class TemplateRenderFailure(TemplateError):
    """The template fails to render (its trial render, or a message that is too long)."""


def check_kind_and_language(kind: str, language: str) -> None:
    """Refuse a kind we do not send or a language that is not a primary subtag."""
    if kind not in KINDS:
        raise UnknownTemplateKind(kind)
    if not LANGUAGE_PATTERN.match(language):
        raise InvalidLanguage(language)


class _Sandbox(ImmutableSandboxedEnvironment):
    """Jinja2's immutable sandbox (no attribute starting with ``_``, no mutation of lists
    or dicts) without globals such as ``cycler`` or ``range``, and without the operators
    that let one line of template build gigabytes (``**``, repeating a string with ``*``)."""

    intercepted_binops = frozenset({"*", "**"})

    def __init__(self, autoescape: bool) -> None:
        super().__init__(undefined=StrictUndefined, autoescape=autoescape)
        self.globals.clear()

    def call_binop(self, context, operator, left, right):  # noqa: ANN001, ANN201
        if operator == "**":
            raise SecurityError("the power operator is not allowed in templates")
        if isinstance(left, str | list | tuple) or isinstance(right, str | list | tuple):
            raise SecurityError("repeating text with * is not allowed in templates")
        return super().call_binop(context, operator, left, right)


_TEXT = _Sandbox(autoescape=False)
_HTML = _Sandbox(autoescape=True)

_DOCUMENT = _HTML.from_string(
    '<!DOCTYPE html>\n<html lang="{{ lang }}" dir="{{ dir }}">\n<head><meta charset="utf-8">'
    "<title>{{ subject }}</title></head>\n"
    '<body dir="{{ dir }}" style="font-family: sans-serif; text-align: {{ align }}">\n'
    "{{ content }}\n</body>\n</html>\n"
)


def direction(language: str) -> str:
    """``rtl`` for a language written right to left, else ``ltr``."""
    return "rtl" if language.split("-")[0].lower() in RTL_LANGUAGES else "ltr"


def primary_language(tag: str | None) -> str:
    """The primary subtag of a BCP 47 tag, lower case (``ro-RO`` → ``ro``); '' when absent."""
    return (tag or "").split("-")[0].split("_")[0].strip().lower()


def _check_part(environment: _Sandbox, kind: str, part: str, source: str) -> None:
    try:
        tree = environment.parse(source)
    except TemplateSyntaxError as exc:
        raise InvalidTemplateSyntax(part, f"line {exc.lineno}: {exc.message}") from exc
    for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
        name = node.attr if isinstance(node, nodes.Getattr) else getattr(node.arg, "value", None)
        if isinstance(name, str) and name.startswith("_"):
            raise UnsafeTemplate(part, f"'{name}' reaches into Python internals")
    for constant in tree.find_all(nodes.Const):
        # ``x|attr("__class__")`` or ``x["__class__"]`` inside a branch the trial render skips
        if isinstance(constant.value, str) and constant.value.startswith("__"):
            raise UnsafeTemplate(part, f"'{constant.value}' reaches into Python internals")
    try:
        # Compiles the template: an unknown filter or test shows up here.
        unknown = meta.find_undeclared_variables(tree) - set(VARIABLES[kind])
    except TemplateSyntaxError as exc:
        raise InvalidTemplateSyntax(part, f"line {exc.lineno}: {exc.message}") from exc
    if unknown:
        raise UndefinedTemplateVariable(
            part,
            f"unknown variable(s) {', '.join(sorted(unknown))}; a {kind} template may use "
            f"{', '.join(VARIABLES[kind])}",
        )


def validate(kind: str, text: TemplateText) -> None:
    """Refuse a template that cannot be parsed, reaches for Python internals, uses a variable
    its kind does not have, or fails a trial render with the sample values."""
    _check_part(_TEXT, kind, "subject", text.subject)
    _check_part(_TEXT, kind, "body_text", text.body_text)
    if text.body_html is not None:
        _check_part(_HTML, kind, "body_html", text.body_html)
    try:
        render(kind, "en", text, VARIABLES[kind])
    except TemplateError:
        raise
    except SecurityError as exc:
        raise UnsafeTemplate("template", str(exc)) from exc
    except (UndefinedError, TypeError, ValueError, ArithmeticError, LookupError) as exc:
        raise TemplateRenderFailure("template", str(exc)) from exc


def _text_as_html(body_text: str) -> Markup:
    paragraphs = [p for p in re.split(r"\n\s*\n", body_text.strip()) if p.strip()]
    return Markup("\n").join(
        Markup("<p>{}</p>").format(
            Markup("<br>\n").join(html.escape(line) for line in p.split("\n"))
        )
        for p in paragraphs
    )


def render(kind: str, language: str, text: TemplateText, context: dict) -> RenderedMessage:
    """Render ``text`` (a template of ``kind`` in ``language``) with ``context``.

    The HTML part is a whole document carrying ``lang`` and ``dir`` (right-to-left scripts
    such as Persian render correctly); without an HTML template it is the text body, escaped,
    in paragraphs.
    """
    values = {name: None for name in VARIABLES[kind]} | context
    subject = " ".join(_TEXT.from_string(text.subject).render(values).split())
    body_text = _TEXT.from_string(text.body_text).render(values)
    if text.body_html is not None:
        content = Markup(_HTML.from_string(text.body_html).render(values))
    else:
        content = _text_as_html(body_text)
    text_direction = direction(language)
    document = _DOCUMENT.render(
        lang=language,
        dir=text_direction,
        align="right" if text_direction == "rtl" else "left",
        subject=subject,
        content=content,
    )
    if len(body_text) + len(document) > MAX_RENDERED_CHARS:
        raise TemplateRenderFailure("template", "the message is too long")
    return RenderedMessage(subject=subject, body_text=body_text, body_html=document)
