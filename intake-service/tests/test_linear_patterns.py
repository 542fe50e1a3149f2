"""Every regular expression intake runs on customer text is linear (DESIGN rule 8).

The patterns are found, not listed: every compiled pattern at module level anywhere in
``intake_service`` (also inside dicts and tuples), so a new one is
covered the day it is added; a test below refuses ``re.search(r"...")``-style calls with an
inline pattern, which this discovery could not see. Each pattern runs over 100 KB
adversarial texts: its own keywords repeated glued together ("comandcomand..."), spaced,
each followed by long runs of spaces, digits, dashes or colons, and long runs of single
characters. The third-party code that reads customer text with regular expressions
(quotequail for replies and inline forwards, html2text for HTML) is run through our bounded
wrappers with inputs known to make it backtrack.

Bounds: a linear pattern takes milliseconds on 100 KB; the bound is one second of CPU of the
test's own thread (``time.thread_time``, so other threads do not count) per pattern and
input, orders of magnitude above what a linear pattern needs and far below what the
backtracking we removed took (48 KB of "comand" took about 50 s). Tests never fail because
the machine was slow, only because a pattern's work grows faster than its input.
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
import re
import time
from pathlib import Path

import intake_service
import pytest
from intake_service.classification.model import (
    built_in_rulebook,
    built_in_rules,
    desk_rules,
    rulebook,
)
from intake_service.complaints.model import references_in
from intake_service.config import MimeLimits
from intake_service.email.model import (
    check_structure,
    html_to_text,
    message_ids,
    unwrap_quoted,
)
from intake_service.normalisation.model import classify, extract_order_ref, extract_sku

SIZE = 100_000
CPU_BOUND_SECONDS = 1.0
PACKAGE_DIR = Path(intake_service.__file__).parent


def _modules():
    for info in pkgutil.walk_packages([str(PACKAGE_DIR)], "intake_service."):
        if ".migrations" in info.name or info.name.endswith("__main__"):
            continue
        yield importlib.import_module(info.name)


def _patterns_in(value, seen: set[int]):
    if isinstance(value, re.Pattern):
        if id(value) not in seen:
            seen.add(id(value))
            yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _patterns_in(item, seen)
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            yield from _patterns_in(item, seen)


def _all_patterns() -> list[tuple[str, re.Pattern]]:
    seen: set[int] = set()
    found = []
    for module in _modules():
        for name, value in vars(module).items():
            for index, pattern in enumerate(_patterns_in(value, seen)):
                found.append((f"{module.__name__}.{name}[{index}]", pattern))
    return found


PATTERNS = _all_patterns()


def _cycle(pieces: list[str], size: int = SIZE) -> str:
    text = "".join(pieces)
    return (text * (size // max(len(text), 1) + 1))[:size]


def _keywords(pattern: re.Pattern) -> list[str]:
    source = pattern.pattern
    if isinstance(source, bytes):
        source = source.decode("latin-1")
    # Letter runs of the pattern, without the escapes' letters (\w, \s, \d).
    words = re.findall(r"(?<!\\)[^\W\d_]{2,}", source)
    return sorted(set(words)) or ["a"]


def adversarial_texts(pattern: re.Pattern) -> dict[str, str]:
    """100 KB inputs made to hurt ``pattern``: near-matches of its keywords and long runs."""
    words = _keywords(pattern)
    texts = {
        "keywords glued": _cycle(words),
        "keywords spaced": _cycle([f"{w} " for w in words]),
        "keyword + 1000 spaces": _cycle([w + " " * 1000 for w in words]),
        "keyword + 1000 digits + letter": _cycle([w + "1" * 1000 + "a" for w in words]),
        "keyword + colon + spaces": _cycle([f"{w} :{' ' * 500}#" for w in words]),
        "keyword + dashes": _cycle([w + "-" * 1000 for w in words]),
        "keyword + word run": _cycle([w + "x" * 1000 + " " for w in words]),
        "keyword lines": _cycle([f"{w}\n" for w in words]),
        "keyword + angle": _cycle([f"<{w}" + "a" * 1000 for w in words]),
    }
    for char in (" ", "1", "a", "-", "<", "\n", ":", "😀", "\u200c"):
        texts[f"run of {char!r}"] = char * SIZE
    texts["'comand' repeated"] = "comand" * (SIZE // 6)
    texts["'order no' repeated"] = "order no" * (SIZE // 8)
    texts["'SKU-' repeated"] = "SKU-" * (SIZE // 4)
    return texts


def cpu_seconds(function, *args) -> float:
    start = time.thread_time()
    function(*args)
    return time.thread_time() - start


def test_the_discovery_finds_the_patterns_that_see_customer_text():
    names = {name.split("[")[0] for name, _ in PATTERNS}
    for expected in (
        "intake_service.normalisation.model._ORDER_WORD",
        "intake_service.normalisation.model._ORDER_CODE",
        "intake_service.normalisation.model._SKU",
        "intake_service.email.model._MESSAGE_ID",
        "intake_service.email.model._FORWARD_PREFIX",
        "intake_service.email.model._BOUNDARY_PARAM",
        "intake_service.complaints.model.REFERENCE_PATTERN",
    ):
        assert expected in names, f"{expected} not discovered"
    assert len(PATTERNS) >= 10


def test_no_inline_patterns_outside_module_level():
    """``re.sub(r"...", ...)`` in a function would escape the discovery above: patterns are
    compiled at module level instead."""
    calls = {"search", "match", "fullmatch", "sub", "subn", "findall", "finditer", "split"}
    offenders = []
    for path in PACKAGE_DIR.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id == "re"
                and node.func.attr in calls
            ):
                offenders.append(f"{path.relative_to(PACKAGE_DIR)}:{node.lineno}")
    assert not offenders, offenders


@pytest.mark.parametrize(("name", "pattern"), PATTERNS, ids=[name for name, _ in PATTERNS])
def test_every_pattern_is_linear_on_100_kb_adversarial_text(name, pattern):
    slowest = (0.0, "")
    for label, text in adversarial_texts(pattern).items():
        subject = text.encode("utf-8") if isinstance(pattern.pattern, bytes) else text
        spent = cpu_seconds(lambda s=subject: sum(1 for _ in pattern.finditer(s)))
        slowest = max(slowest, (spent, label))
    assert slowest[0] < CPU_BOUND_SECONDS, f"{name} took {slowest[0]:.2f} s on {slowest[1]}"


def test_the_comand_text_that_took_50_seconds_is_now_linear():
    text = "comand" * (SIZE // 6)
    assert cpu_seconds(extract_order_ref, text) < CPU_BOUND_SECONDS
    assert extract_order_ref("Comanda nr. 1042 nu a sosit") == "1042"
    assert extract_order_ref("order no. SO 7781") == "SO-7781"


def _quote_hostile() -> dict[str, str]:
    """Inputs that make quotequail's own patterns backtrack (measured before the bounded
    view: 5 KB of the gmail-date case took 3.5 s, 20 KB of the Dutch "heeft" case 2.5 s)."""

    def lines(unit: str, start: str, width: int = 2000) -> str:
        line = start + (unit * (width // len(unit) + 1))[:width]
        return "\n".join([line] * (SIZE // (width + 1)))

    return {
        "gmail date": "2020/1/1 " + " <a@" * (SIZE // 4),
        "dutch heeft": "Op x" + " heeft x" * (SIZE // 8),
        "german schrieb": "Am " + " schrieb" * (SIZE // 8),
        "gmail date lines": lines(" <a@", "2020/1/1 ", 150),
        "dutch lines": lines(" heeft x", "Op x", 150),
        "unmapped header lines": "a: b\n" * (SIZE // 5),
        "quoted lines": "> a\n" * (SIZE // 4),
        "on wrote": "On " + "x" * SIZE,
        "forward markers": "---------- Forwarded message ---------\n" * (SIZE // 39),
        "spaces": " " * SIZE,
    }


@pytest.mark.parametrize("label", list(_quote_hostile()))
def test_reply_and_forward_detection_is_bounded(label):
    text = _quote_hostile()[label]
    assert cpu_seconds(unwrap_quoted, text) < CPU_BOUND_SECONDS


def test_the_bounded_quote_view_gives_long_lines_and_the_rest_back():
    long_line = "x" * 5000
    body = (
        f"Thanks, see below.\n{long_line}\n\n"
        "On Mon, 2 Mar 2026 at 10:00, Desk <desk@example.com> wrote:\n"
        "> Your complaint was registered.\n" + "> more\n" * 400
    )
    unwrapped = unwrap_quoted(body)
    assert unwrapped is not None and unwrapped["type"] == "reply"
    assert unwrapped["text_top"] == f"Thanks, see below.\n{long_line}"
    assert unwrapped["text"].count("more") == 400


def _html_hostile() -> dict[str, str]:
    """HTML that made html2text or Python's HTML parser slow (12,500 nested ``<ol><li>``
    took 97 s, 50,000 ``</`` 2 s)."""
    return {
        "nested lists": "<ol><li>" * (SIZE // 8),
        "nested divs": "<div>" * (SIZE // 5),
        "nested tables": "<table><tr><td>" * (SIZE // 15),
        "end tags": "</" * (SIZE // 2),
        "processing instructions": "<?" * (SIZE // 2),
        "declarations": "<!" * (SIZE // 2),
        "cdata": "<![CDATA[" * (SIZE // 9),
        "less-than": "<" * SIZE,
        "ampersands": "&" * SIZE,
        "paragraphs": "<p>" * (SIZE // 3),
        "open attribute": "<a href='" + "x" * SIZE,
    }


HTML_CPU_BOUND_SECONDS = 5.0
"""html2text is linear on well-formed HTML but slow per byte (about 0.5 s for 100 KB of
entities on the reference machine): its bound is looser, still far below the 97 s of the
quadratic case it guards against."""


@pytest.mark.parametrize("label", list(_html_hostile()))
def test_html_to_text_is_bounded(label):
    assert cpu_seconds(html_to_text, _html_hostile()[label]) < HTML_CPU_BOUND_SECONDS


def test_the_functions_over_the_patterns_are_linear_too():
    hostile = [
        "comand" * (SIZE // 6),
        "SKU " + " " * SIZE,
        "SKU-" * (SIZE // 4),
        "order" + " " * SIZE,
        "RDR-" * (SIZE // 4),
        "<" + "a" * SIZE,
        "fw:" * (SIZE // 3),
        "refund " * (SIZE // 7),
    ]
    for text in hostile:
        for function in (extract_order_ref, extract_sku, classify, references_in, message_ids):
            spent = cpu_seconds(function, text)
            assert spent < CPU_BOUND_SECONDS, f"{function.__name__}: {spent:.2f} s"


def test_classification_has_no_pattern_and_stays_linear_on_hostile_keywords():
    """The category rules are keywords found by one Aho-Corasick pass (no regular expression
    to backtrack), also a desk's own: keywords nested in each other ("aa", "aaa", ...) over a
    run of that letter, every built-in keyword glued and spaced, and long runs of one
    character stay within the bound."""
    nested = rulebook([desk_rules("xx", {"nested": ["a" * n for n in range(2, 81)]}, {}, ())])
    keywords = [
        word.removeprefix("=")
        for table in built_in_rules().values()
        for words in (*table.categories.values(), *table.signals.values())
        for word in words
    ]
    hostile = [
        "a" * SIZE,
        _cycle(keywords),
        _cycle([word + " " for word in keywords]),
        "ß" * SIZE,
        "\u0301" * SIZE,
        "Ａ" * SIZE,
    ]
    for text in hostile:
        for rules in (nested, built_in_rulebook()):
            spent = cpu_seconds(rules.classify, text)
            assert spent < CPU_BOUND_SECONDS, f"{text[:10]!r}: {spent:.2f} s"
    assert nested.classify("aaaa").category == "nested"


def test_the_structure_check_is_linear():
    limits = MimeLimits(max_header_bytes=10**9, max_parts=10**9, max_depth=10**9)
    hostile = [
        b"Content-Type: multipart/mixed; boundary=" + b"b" * 60 + b"\r\n\r\n" + b"--" * SIZE,
        b"X: y\r\n\r\n" + b"--b\r\n" * (SIZE // 5),
        b"boundary=" * (SIZE // 9),
        b"\n" * SIZE,
    ]
    for raw in hostile:
        assert cpu_seconds(check_structure, raw, limits) < CPU_BOUND_SECONDS
