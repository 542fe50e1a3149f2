"""Message templates: the kinds of message we send, the variables each may use, and their
rendering in a Jinja2 sandbox (pure: no I/O; the stored versions are ``store.py``'s).

Undefined-variable policy: a template may use only the variables documented for its kind
(:data:`VARIABLES`); anything else is refused when the template is saved, and rendering uses
``StrictUndefined``, so a message is never sent with a silently empty hole. Optional
variables (the complaint's subject, an explanation) are always defined, possibly as ``None``:
test them with ``{% if %}``.
"""

from __future__ import annotations

import contextvars
import functools
import html
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime

from jinja2 import StrictUndefined, Template, TemplateSyntaxError, Undefined, meta, nodes
from jinja2.exceptions import SecurityError, UndefinedError
from jinja2.sandbox import ImmutableSandboxedEnvironment
from markupsafe import Markup
from redress_shared.errors import DomainError

from notification_service.locales.model import TAG_PATTERN, direction

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
#: Dates, times and amounts arrive written for the customer's locale and time zone.
VARIABLES: dict[str, dict[str, object]] = {
    ACKNOWLEDGEMENT: {
        **_COMMON,
        "subject": "Broken charger",
        "first_response_by": "November 25, 2026, 10:00 AM (Central European Standard Time)",
        "resolve_by": "December 7, 2026",
    },
    INFORMATION_REQUEST: {**_COMMON, "question": "Please send a photo of the serial number."},
    INVESTIGATING: dict(_COMMON),
    RESOLVED: {**_COMMON, "resolution": "A replacement charger is on its way (tracking RO123)."},
    DELAY_APOLOGY: {
        **_COMMON,
        "deadline": "resolve",
        "missed_at": "December 7, 2026, 6:00 PM (Central European Standard Time)",
        "new_time": "December 9, 2026, 6:00 PM (Central European Standard Time)",
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
        "amount_with_currency": "€49.90",
        "method": "bank transfer",
        "due_date": "December 10, 2026",
    },
    SURVEY: {**_COMMON, "survey_url": "https://feedback.redress.example/survey/RDR-2026-000123"},
    FOLLOW_UP: {**_COMMON, "resolved_on": "December 1, 2026"},
}
KINDS = tuple(VARIABLES)

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
    """A template's language is not a language tag in canonical form."""

    def __init__(self, language: str) -> None:
        super().__init__(
            f"'{language}' is not a language tag in canonical form: a primary subtag of two or "
            "three lower-case letters, optionally a script and a region (ro, pt-BR, zh-Hant)"
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
    """Refuse a kind we do not send or a language that is not a canonical language tag."""
    if kind not in KINDS:
        raise UnknownTemplateKind(kind)
    if not TAG_PATTERN.match(language):
        raise InvalidLanguage(language)


# --- the sandbox and its limits ---------------------------------------------------------------
#
# A template is operator input run on every message, inside the consumer: one that loops
# over loops, pads to 200 million characters or recurses through macros must be refused
# when it is saved and, should one slip through, stopped when it renders. Every operation
# that can make a value or the output grow is checked before or right after it runs, every
# loop iteration and call counts against a budget, and every check looks at the clock.

MAX_RENDER_STEPS = 10_000  # loop iterations plus calls (macros, methods) in one render
MAX_OUTPUT_CHARS = 4 * MAX_RENDERED_CHARS  # every output counted (a macro's again where used)
MAX_VALUE_CHARS = MAX_RENDERED_CHARS  # any one value computed (filter result, concatenation)
MAX_INT_ARGUMENT = 10_000  # a filter's or method's number argument (width, count, precision)
MAX_NUMBER = 10**18  # any number computed
RENDER_TIME_LIMIT_SECONDS = 1.0  # wall clock, checked at every step
#: The trial render at save time: free text at its largest, the rest long for what it is.
MAX_FREE_TEXT_CHARS = 5_000
MAX_SHORT_VALUE_CHARS = 200
FREE_TEXT_VARIABLES = frozenset(
    {"subject", "question", "resolution", "message", "explanation", "way_forward"}
)

_WIDTH = re.compile(r"\d+")
_LOOP_GUARD = "loop guard"  # not a name a template can write: only our rewrite uses them
_VALUE_GUARD = "value guard"


class TemplateLimitExceeded(TemplateError):
    """The template does too much: output too long, too many loop iterations or calls, too
    large an argument or value, or too long to render."""


class _Budget:
    """What one render may still do (steps, output, time); set per render (context var)."""

    def __init__(self) -> None:
        self.steps, self.output = MAX_RENDER_STEPS, MAX_OUTPUT_CHARS
        self.deadline = time.monotonic() + RENDER_TIME_LIMIT_SECONDS

    def spend(self, steps: int = 0, chars: int = 0) -> None:
        self.steps -= steps
        self.output -= chars
        if self.steps < 0:
            raise TemplateLimitExceeded("template", f"over {MAX_RENDER_STEPS} loops and calls")
        if self.output < 0:
            raise TemplateLimitExceeded("template", f"output over {MAX_OUTPUT_CHARS} characters")
        if time.monotonic() > self.deadline:
            raise TemplateLimitExceeded("template", f"over {RENDER_TIME_LIMIT_SECONDS:g} s")


_BUDGET: contextvars.ContextVar[_Budget | None] = contextvars.ContextVar("budget", default=None)


def _budget() -> _Budget:
    return _BUDGET.get() or _Budget()  # outside render() (folding constants): a fresh one


def _checked(value: object) -> object:
    """``value`` if it is within the limits of a computed value."""
    if isinstance(value, str | list | tuple | dict | set) and len(value) > MAX_VALUE_CHARS:
        raise TemplateLimitExceeded("template", f"a value over {MAX_VALUE_CHARS} characters")
    if isinstance(value, int | float) and not isinstance(value, bool) and abs(value) > MAX_NUMBER:
        raise TemplateLimitExceeded("template", f"a number over {MAX_NUMBER}")
    return value


def _check_format(template: object) -> None:
    """Refuse a %- or {}-format string with a width or precision over the limit."""
    if isinstance(template, str) and any(
        len(digits) > 5 or int(digits) > MAX_INT_ARGUMENT for digits in _WIDTH.findall(template)
    ):
        raise TemplateLimitExceeded("template", f"a format width over {MAX_INT_ARGUMENT}")


def _check_growth(name: str, subject: object, args: tuple, kwargs: dict) -> None:
    """Refuse what would make a filter or method (``name`` applied to ``subject``) build a
    huge value before its result could be checked: a number argument over
    :data:`MAX_INT_ARGUMENT`; a join, replace, indent, tab expansion or wrap, or a format
    string, whose result would be over :data:`MAX_VALUE_CHARS`."""
    for value in (*args, *kwargs.values()):
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_INT_ARGUMENT:
            raise TemplateLimitExceeded("template", f"{name}: an argument over {MAX_INT_ARGUMENT}")
    first = args[0] if args else None
    size, bound = (len(subject), 0) if isinstance(subject, str | list | tuple) else (0, 0)
    if name == "join" and size:
        separator = first if first is not None else kwargs.get("d", "")
        bound = sum(len(str(p)) for p in subject) + size * len(str(separator))  # type: ignore[union-attr]
    elif name == "replace" and isinstance(subject, str) and len(args) > 1:
        count = subject.count(str(first)) if first else size + 1
        bound = size + count * len(str(args[1]))
    elif name == "indent" and isinstance(subject, str):
        width = first if first is not None else kwargs.get("width", 4)
        per_line = len(width) if isinstance(width, str) else int(width)  # type: ignore[arg-type]
        bound = size + (subject.count("\n") + 1) * per_line
    elif name == "expandtabs" and isinstance(subject, str):
        bound = size + subject.count("\t") * int(first if first is not None else 8)  # type: ignore[arg-type]
    elif name == "wordwrap" and isinstance(subject, str):
        width = max(1, int(first if first is not None else kwargs.get("width", 79)))  # type: ignore[arg-type]
        wrap = str(kwargs.get("wrapstring") or (args[2] if len(args) > 2 else "\n"))
        bound = size + (size // width + subject.count("\n") + 1) * len(wrap)
    elif name in ("format", "format_map"):
        _check_format(subject)
    if bound > MAX_VALUE_CHARS:
        raise TemplateLimitExceeded("template", f"{name}: a result over {MAX_VALUE_CHARS} chars")


def _guard_filter(name: str, function: Callable) -> Callable:
    passes_context = getattr(function, "jinja_pass_arg", None) is not None

    @functools.wraps(function)
    def guarded(*args: object, **kwargs: object) -> object:
        _budget().spend()
        own = args[1:] if passes_context else args
        _check_growth(name, own[0] if own else None, own[1:], kwargs)
        return _checked(function(*args, **kwargs))

    return guarded


def _loop_guard(iterable: object, static_chars: int = 0) -> Iterator:
    """Every iteration of a ``for`` loop: one step, plus the loop body's literal text."""
    budget = _budget()
    for item in iterable:  # type: ignore[attr-defined]
        budget.spend(1, static_chars)
        yield item


def _value_guard(node: nodes.Node) -> nodes.Node:
    is_concat = isinstance(node, nodes.Concat)
    return nodes.Filter(node, _VALUE_GUARD, [], [], None, None) if is_concat else node


def _finalize(value: object) -> object:
    """Every ``{{ ... }}`` output: counted against the output budget."""
    if value is not None and not isinstance(value, Undefined):
        _budget().spend(chars=len(value) if isinstance(value, str) else 20)
    return value


class _Sandbox(ImmutableSandboxedEnvironment):
    """Jinja2's immutable sandbox (no ``_`` attributes, no mutation) without globals (no
    ``cycler``, no ``range``), ``**`` or repeating text with ``*``, and with the limits above:
    every ``for`` loop counts its iterations, every ``~`` is size-checked (the parsed template
    is rewritten so); filters, calls, operators and outputs check sizes, budget and clock."""

    intercepted_binops = frozenset({"*", "**", "+", "-", "/", "//", "%"})

    def __init__(self, autoescape: bool) -> None:
        super().__init__(undefined=StrictUndefined, autoescape=autoescape, finalize=_finalize)
        self.globals.clear()
        self.filters = {name: _guard_filter(name, f) for name, f in self.filters.items()}
        self.filters[_LOOP_GUARD] = _loop_guard
        self.filters[_VALUE_GUARD] = _checked

    def _parse(self, source, name, filename):  # noqa: ANN001, ANN202
        tree = super()._parse(source, name, filename)
        for loop in tree.find_all(nodes.For):
            if loop.recursive:
                raise SecurityError("recursive loops are not allowed in templates")
            static = sum(len(data.data) for data in loop.find_all(nodes.TemplateData))
            loop.iter = nodes.Filter(
                loop.iter, _LOOP_GUARD, [nodes.Const(static)], [], None, None, lineno=loop.lineno
            )
        for parent in [tree, *tree.find_all(nodes.Node)]:  # every ``a ~ b`` is size-checked
            for field, value in parent.iter_fields():
                if isinstance(value, nodes.Concat):
                    setattr(parent, field, _value_guard(value))
                elif isinstance(value, list) and any(isinstance(v, nodes.Concat) for v in value):
                    setattr(parent, field, [_value_guard(v) for v in value])
        tree.set_environment(self)
        return tree

    def call_binop(self, context, operator, left, right):  # noqa: ANN001, ANN201
        if operator == "**":
            raise SecurityError("the power operator is not allowed in templates")
        if operator == "*" and (
            isinstance(left, str | list | tuple) or isinstance(right, str | list | tuple)
        ):
            raise SecurityError("repeating text with * is not allowed in templates")
        if operator == "%":
            _check_format(left)
        _budget().spend()
        return _checked(super().call_binop(context, operator, left, right))

    def call(__self, __context, __obj, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN201, N805
        _budget().spend(1)
        name = getattr(__obj, "__name__", "")
        owner = getattr(getattr(__obj, "__wrapped__", __obj), "__self__", None)
        if isinstance(owner, str) and name == "join":
            _check_growth(name, args[0] if args else "", (owner,), {})
        elif isinstance(owner, str):
            _check_growth(name, owner, args, kwargs)
        else:
            _check_growth(name, None, args, kwargs)
        try:
            return _checked(super().call(__context, __obj, *args, **kwargs))
        except RecursionError as exc:
            raise TemplateLimitExceeded("template", "macros call themselves too deeply") from exc


_TEXT = _Sandbox(autoescape=False)
_HTML = _Sandbox(autoescape=True)

_DOCUMENT = _HTML.from_string(
    '<!DOCTYPE html>\n<html lang="{{ lang }}" dir="{{ dir }}">\n<head><meta charset="utf-8">'
    "<title>{{ subject }}</title></head>\n"
    '<body dir="{{ dir }}" style="font-family: sans-serif; text-align: {{ align }}">\n'
    "{{ content }}\n</body>\n</html>\n"
)


def _check_part(environment: _Sandbox, kind: str, part: str, source: str) -> None:
    try:
        tree = environment.parse(source)
    except TemplateSyntaxError as exc:
        raise InvalidTemplateSyntax(part, f"line {exc.lineno}: {exc.message}") from exc
    except SecurityError as exc:
        raise UnsafeTemplate(part, str(exc)) from exc
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


def largest_values(kind: str) -> dict[str, str]:
    """The variables of ``kind`` at their largest (free text in lines), for the trial render."""
    text = ("Lorem ipsum dolor sit amet, consectetur adipiscing elit.\n" * 100) + "\n"
    return {
        name: (text * (MAX_FREE_TEXT_CHARS // len(text) + 1))[
            : MAX_FREE_TEXT_CHARS if name in FREE_TEXT_VARIABLES else MAX_SHORT_VALUE_CHARS
        ]
        for name in VARIABLES[kind]
    }


def validate(kind: str, text: TemplateText) -> None:
    """Refuse a template that cannot be parsed, reaches for Python internals, uses a variable
    its kind does not have, fails a trial render with the sample values, or breaks a limit
    rendered with them or with every variable at its largest (:func:`largest_values`)."""
    _check_part(_TEXT, kind, "subject", text.subject)
    _check_part(_TEXT, kind, "body_text", text.body_text)
    if text.body_html is not None:
        _check_part(_HTML, kind, "body_html", text.body_html)
    try:
        render(kind, "en", text, VARIABLES[kind])
        render(kind, "en", text, largest_values(kind))
    except TemplateError:
        raise
    except SecurityError as exc:
        raise UnsafeTemplate("template", str(exc)) from exc
    except (UndefinedError, TypeError, ValueError, ArithmeticError, LookupError) as exc:
        raise TemplateRenderFailure("template", str(exc)) from exc


def _text_as_html(body_text: str) -> Markup:
    # Each line escaped once (Markup.join would escape html.escape's entities again).
    paragraphs = [p for p in re.split(r"\n\s*\n", body_text.strip()) if p.strip()]
    lines = ("<br>\n".join(map(html.escape, p.split("\n"))) for p in paragraphs)
    return Markup("\n".join(f"<p>{content}</p>" for content in lines))


@functools.lru_cache(maxsize=1024)
def _compiled(autoescape: bool, source: str) -> Template:
    """Compiled once per text, so once per template version (a version never changes)."""
    return (_HTML if autoescape else _TEXT).from_string(source)


def render(kind: str, language: str, text: TemplateText, context: dict) -> RenderedMessage:
    """Render ``text`` (a template of ``kind`` in ``language``) with ``context``, within the
    sandbox's limits (:class:`TemplateLimitExceeded` when one is broken).

    The HTML part is a whole document carrying ``lang`` and ``dir`` (right-to-left scripts
    such as Persian render correctly); without an HTML template it is the text body, escaped,
    in paragraphs.
    """
    token = _BUDGET.set(_Budget())
    try:
        return _render(kind, language, text, context)
    except RecursionError as exc:
        raise TemplateLimitExceeded("template", "macros call themselves too deeply") from exc
    except MemoryError as exc:
        raise TemplateLimitExceeded("template", "the template needs too much memory") from exc
    finally:
        _BUDGET.reset(token)


def _render(kind: str, language: str, text: TemplateText, context: dict) -> RenderedMessage:
    values = {name: None for name in VARIABLES[kind]} | context
    subject = " ".join(_compiled(False, text.subject).render(values).split())
    body_text = _compiled(False, text.body_text).render(values)
    if text.body_html is not None:
        content = Markup(_compiled(True, text.body_html).render(values))
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
        raise TemplateLimitExceeded(
            "template", f"the message is over {MAX_RENDERED_CHARS} characters"
        )
    return RenderedMessage(subject=subject, body_text=body_text, body_html=document)
