"""Every endpoint of every service is documented with a summary and examples."""

from __future__ import annotations

import importlib
import json
import re

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


def _documents() -> dict[str, dict]:
    from redress_stack.catalog import SERVICES as CATALOG

    return {
        spec.name: importlib.import_module(f"{spec.package}.bootstrap").build_app().openapi()
        for spec in CATALOG
    }


@pytest.mark.parametrize("package", SERVICES)
def test_every_error_names_its_problem_types_and_what_to_do(package):
    """A person reading an error response sees which problem `type` values it carries, each
    with what to do; the service's own problem types all appear somewhere."""
    bootstrap = importlib.import_module(f"{package}.bootstrap")
    problems = importlib.import_module(f"{package}.api").PROBLEMS
    spec = bootstrap.build_app().openapi()
    documented = set()
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            for code, response in operation["responses"].items():
                if code[0] not in "45":
                    continue
                examples = response["content"]["application/problem+json"]["examples"]
                assert examples, f"{method} {path} {code}: no problem type named"
                for example in examples.values():
                    value = example["value"]
                    assert value["type"].startswith("urn:redress:problem:")
                    assert value["status"] == int(code)
                    assert value["type"] in response["description"]
                    assert value["detail"], f"{method} {path} {code}: nothing to do"
                    documented.add(value["type"].rsplit(":", 1)[-1])
    assert {problem.slug for problem in problems.values()} <= documented


def test_every_request_body_shows_an_example_to_send():
    for name, spec in _documents().items():
        for path, operations in spec["paths"].items():
            for method, operation in operations.items():
                for media_type, content in (
                    operation.get("requestBody", {}).get("content", {}).items()
                ):
                    assert content.get("example") is not None, (
                        f"{name} {method} {path} {media_type}"
                    )


def test_the_front_door_document_holds_every_operation_of_every_service():
    from redress_shared.openapi_docs import ServiceDocument, combine_openapi
    from redress_shared.settings import LOCAL_SERVICES

    documents = _documents()
    combined = combine_openapi(
        [ServiceDocument(name, LOCAL_SERVICES[name], spec) for name, spec in documents.items()]
    )
    for name, spec in documents.items():
        for path, operations in spec["paths"].items():
            item = combined["paths"][path]
            assert {"url": LOCAL_SERVICES[name], "description": name} in item["servers"]
            assert set(operations) <= set(item)
    # The platform's endpoints are one entry with every service that has them as servers.
    assert len(combined["paths"]["/v1/api-keys"]["servers"]) == 4
    assert len(combined["paths"]["/v1/admin/dead-letters"]["servers"]) == 3
    assert combined["paths"]["/v1/complaints"]["servers"] == [
        {"url": LOCAL_SERVICES["intake-service"], "description": "intake-service"}
    ]
    # Tags per service, in the order a complaint travels; one security scheme: authorise once.
    tags = [tag["name"] for tag in combined["tags"]]
    assert tags[0].startswith("intake: ") and tags[-1].startswith("every service: ")
    assert {tag.split(": ")[0] for tag in tags} == {
        "intake",
        "case",
        "notification",
        "analytics",
        "every service",
    }
    assert list(combined["components"]["securitySchemes"]) == ["HTTPBearer"]
    operation_ids = [
        operation["operationId"]
        for item in combined["paths"].values()
        for key, operation in item.items()
        if key != "servers"
    ]
    assert len(operation_ids) == len(set(operation_ids))
    text = json.dumps(combined)
    for ref in set(re.findall(r'"#/components/schemas/([^"]+)"', text)):
        assert ref in combined["components"]["schemas"], ref


def test_schemas_two_services_define_differently_are_kept_per_service():
    from redress_shared.openapi_docs import ServiceDocument, combine_openapi

    def document(shape: dict) -> dict:
        return {
            "paths": {
                "/x": {
                    "post": {
                        "requestBody": {
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/Thing"}
                                }
                            }
                        }
                    }
                }
            },
            "components": {"schemas": {"Thing": shape, "Same": {"type": "string"}}},
        }

    combined = combine_openapi(
        [
            ServiceDocument("a-service", "http://a", document({"type": "string"})),
            ServiceDocument("b-service", "http://b", document({"type": "integer"})),
            ServiceDocument("c-service", "http://c", None, error="ConnectError"),
        ]
    )
    schemas = combined["components"]["schemas"]
    assert schemas["a.Thing"] == {"type": "string"} and schemas["b.Thing"] == {"type": "integer"}
    assert "Same" in schemas and "Thing" not in schemas
    body = combined["paths"]["/x"]["post"]["requestBody"]["content"]["application/json"]
    assert body["schema"] == {"$ref": "#/components/schemas/a.Thing"}
    assert "Not reachable at http://c: ConnectError" in combined["info"]["description"]


def test_the_front_door_defaults_to_the_local_stack():
    from redress_shared.settings import LOCAL_SERVICES, ServiceSettings
    from redress_stack.catalog import SERVICES as CATALOG

    assert LOCAL_SERVICES == {spec.name: f"http://127.0.0.1:{spec.port}" for spec in CATALOG}
    assert ServiceSettings().docs_services == LOCAL_SERVICES


async def test_the_docs_pages_load_nothing_from_elsewhere():
    """FastAPI's default pages (Swagger UI and ReDoc from a CDN) are gone; ours name only the
    service's own files and start Swagger UI from a file, never an inline script."""
    import httpx
    from intake_service.bootstrap import build_app

    app = build_app()
    assert app.docs_url is None and app.redoc_url is None
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://docs.test") as client:
        for page in ("/docs", "/docs/all"):
            html = (await client.get(page)).text
            assert "cdn" not in html.lower() and "https://" not in html
            assert re.findall(r'<script src="([^"]+)"></script>', html) == [
                "/docs/assets/swagger-ui-bundle.js",
                "/docs/assets/docs.js",
            ]
        bundle = await client.get("/docs/assets/swagger-ui-bundle.js")
        assert bundle.status_code == 200 and b"SwaggerUIBundle" in bundle.content
        assert (await client.get("/redoc")).status_code == 404
