"""The layout DESIGN.md describes holds, and docs/architecture.md names real code.

These read the source tree and import modules; they start nothing.
"""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SERVICES = {
    "intake-service": "intake_service",
    "case-service": "case_service",
    "notification-service": "notification_service",
    "analytics-service": "analytics_service",
}
NOUN_MODULES = {"__init__", "model", "service", "store", "events", "api", "schemas"}
ROOT_MODULES = {
    "__init__",
    "__main__",
    "bootstrap",
    "config",
    "tables",
    "consumers",
    "workers",
    "api",
    "rebuild",  # analytics: the replay-from-offset-0 rebuild, a whole-service operation
}
# Adapters to the outside world are named by what they speak, not by a domain role.
ADAPTER_PACKAGES = {"adapters"}
# Built-in customer-facing texts are data; they may be long.
LONG_MODULES_ALLOWED = {"default_templates.py"}
ENTRYPOINTS = {"api.py", "consumers.py", "workers.py"}
MAX_LINES = 500
STEP = re.compile(r"^\d+\. `[a-z_][\w.]*:[\w.]+`", re.MULTILINE)
REFERENCE = re.compile(r"`([a-z_][\w.]*):([\w.]+)`")


def _package_dir(folder: str, package: str) -> Path:
    return ROOT / folder / "src" / package


def _modules(folder: str, package: str) -> list[Path]:
    return [
        path
        for path in _package_dir(folder, package).rglob("*.py")
        if "migrations" not in path.relative_to(_package_dir(folder, package)).parts
    ]


@pytest.mark.parametrize("folder", SERVICES)
def test_every_noun_uses_only_the_shared_module_names(folder):
    """A noun (and a noun inside a noun, such as incidents inside alerts) holds only the
    shared module names, each with its one role."""
    package_dir = _package_dir(folder, SERVICES[folder])
    misplaced = [
        f"{path.name}: not a service-root module"
        for path in package_dir.glob("*.py")
        if path.stem not in ROOT_MODULES
    ]
    for path in package_dir.rglob("*.py"):
        parts = path.relative_to(package_dir).parts
        if len(parts) == 1 or parts[0] == "migrations" or parts[0] in ADAPTER_PACKAGES:
            continue
        if path.stem not in NOUN_MODULES and path.name not in LONG_MODULES_ALLOWED:
            misplaced.append(f"{'/'.join(parts)}: not one of {sorted(NOUN_MODULES)}")
    assert not misplaced, "\n".join(misplaced)


@pytest.mark.parametrize("folder", SERVICES)
def test_no_module_is_over_500_lines(folder):
    long = [
        f"{path.relative_to(ROOT)}: {count} lines"
        for path in _modules(folder, SERVICES[folder])
        if path.name not in LONG_MODULES_ALLOWED
        and (count := len(path.read_text().splitlines())) > MAX_LINES
    ]
    assert not long, "\n".join(long)


@pytest.mark.parametrize(
    "package_dir",
    [
        "shared/src/redress_shared",
        "shared/testing/src/redress_testing",
        "services/src/redress_stack",
    ],
)
def test_no_shared_module_is_over_500_lines(package_dir):
    """The platform library, the test support and the stack runner keep the same limit."""
    long = [
        f"{path.relative_to(ROOT)}: {count} lines"
        for path in (ROOT / package_dir).rglob("*.py")
        if (count := len(path.read_text().splitlines())) > MAX_LINES
    ]
    assert not long, "\n".join(long)


def _raises_problem(tree: ast.AST) -> bool:
    for node in ast.walk(tree):
        if isinstance(node, ast.Raise) and node.exc is not None:
            call = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
            if isinstance(call, ast.Name) and call.id == "Problem":
                return True
    return False


@pytest.mark.parametrize("folder", SERVICES)
def test_only_the_http_edge_speaks_http_errors(folder):
    """Use cases raise domain errors; only routers may raise ``Problem`` (for HTTP matters
    such as a header), and nothing calls the relay: the commit wakes it."""
    offenders = []
    for path in _modules(folder, SERVICES[folder]):
        source = path.read_text()
        if path.name != "api.py" and _raises_problem(ast.parse(source)):
            offenders.append(f"{path.relative_to(ROOT)} raises Problem")
        if "relay.notify" in source:
            offenders.append(f"{path.relative_to(ROOT)} calls relay.notify")
    assert not offenders, "\n".join(offenders)


@pytest.mark.parametrize("folder", SERVICES)
def test_entrypoints_open_no_transaction(folder):
    """Routers, consumers and workers call use cases; a transaction is a use case's."""
    offenders = [
        f"{path.relative_to(ROOT)}"
        for path in _modules(folder, SERVICES[folder])
        if path.name in ENTRYPOINTS and ".begin()" in path.read_text()
    ]
    assert not offenders, "\n".join(offenders)


@pytest.mark.parametrize("folder", SERVICES)
def test_event_source_is_defined_once(folder):
    definitions = [
        path.relative_to(ROOT)
        for path in _modules(folder, SERVICES[folder])
        if re.search(r"^EVENT_SOURCE\s*=", path.read_text(), re.MULTILINE)
    ]
    assert len(definitions) == 1, definitions


def test_the_architecture_page_names_real_code():
    """Every hop of docs/architecture.md imports: the map cannot drift from the code."""
    page = (ROOT / "docs" / "architecture.md").read_text()
    steps = STEP.findall(page)
    assert len(steps) >= 20, "the path of a complaint is a numbered list of module:function hops"
    hops = REFERENCE.findall(page)
    missing = []
    for module_name, attribute in hops:
        try:
            target = importlib.import_module(module_name)
            for part in attribute.split("."):
                target = getattr(target, part)
        except (ImportError, AttributeError) as error:
            missing.append(f"{module_name}:{attribute}: {error}")
    assert not missing, "\n".join(missing)
    for folder in SERVICES:
        assert f"`{folder}`" in page or folder in page, f"{folder} is not on the map"
