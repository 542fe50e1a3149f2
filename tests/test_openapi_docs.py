"""Every endpoint of every service is documented with a summary and examples."""

from __future__ import annotations

import importlib

import pytest

SERVICES = ["intake_service", "case_service", "notification_service", "analytics_service"]


def _has_example(schema: dict | None, components: dict) -> bool:
    if not schema:
        return False
    if "$ref" in schema:
        schema = components[schema["$ref"].rsplit("/", 1)[-1]]
    if "example" in schema or "examples" in schema:
        return True
    if schema.get("type") == "array":
        return _has_example(schema.get("items"), components)
    properties = schema.get("properties", {})
    return bool(properties) and all(
        "example" in prop or "examples" in prop or _has_example(prop, components)
        for prop in properties.values()
    )


@pytest.mark.parametrize("package", SERVICES)
def test_every_operation_has_a_summary_and_examples(package):
    app = importlib.import_module(f"{package}.bootstrap").build_app()
    spec = app.openapi()
    components = spec.get("components", {}).get("schemas", {})
    undocumented = []
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            where = f"{method.upper()} {path}"
            if not operation.get("summary"):
                undocumented.append(f"{where}: no summary")
            for code, response in operation.get("responses", {}).items():
                for media_type, content in response.get("content", {}).items():
                    if code.startswith("2") and not (
                        "example" in content or _has_example(content.get("schema"), components)
                    ):
                        undocumented.append(f"{where} {code} {media_type}: no example")
            for media_type, content in operation.get("requestBody", {}).get("content", {}).items():
                if not _has_example(content.get("schema"), components):
                    undocumented.append(f"{where} request {media_type}: no example")
    assert not undocumented, "\n".join(undocumented)


@pytest.mark.parametrize("package", SERVICES)
def test_errors_are_documented_as_problem_details(package):
    spec = importlib.import_module(f"{package}.bootstrap").build_app().openapi()
    for path, operations in spec["paths"].items():
        if not path.startswith("/v1/"):
            continue
        for method, operation in operations.items():
            responses = operation["responses"]
            assert "401" in responses and "403" in responses, f"{method} {path} lacks auth errors"
            for code, response in responses.items():
                if code[0] in "45":
                    assert list(response.get("content", {})) == ["application/problem+json"], (
                        f"{method} {path} {code} is not documented as problem+json"
                    )
