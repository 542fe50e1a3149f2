"""OpenAPI documents people can act on, and one document for every service.

:func:`document_problems_and_examples` finishes a service's own document: every error response
is problem+json and names the problem ``type`` values it can carry with what to do about each,
and every request body has one example that the service accepts (the docs page sends it as it
is). :func:`combine_openapi` merges the services' documents into the front door's: tags per
service, and path-level ``servers`` so each operation is sent to the service that owns it.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from redress_shared.errors import (
    HTTP_PROBLEMS,
    PLATFORM_PROBLEMS,
    PROBLEM_CONTENT_TYPE,
    PROBLEM_TYPE_PREFIX,
    ProblemDetail,
    ProblemMap,
)

# The problems the platform itself answers with, by status: (slug, title, what to do).
PLATFORM_PROBLEM_TYPES: dict[int, list[tuple[str, str, str]]] = {
    400: [
        (
            "malformed-json",
            "The request body is not valid JSON",
            "Send a well-formed JSON body with `Content-Type: application/json`.",
        )
    ],
    401: [
        (
            "unauthenticated",
            "Authentication is required",
            "Send an API key as `Authorization: Bearer <key>` (the Authorize button on the "
            "docs page); an admin creates keys with `POST /v1/api-keys`.",
        )
    ],
    403: [
        (
            "forbidden",
            "The API key lacks the required scope",
            "Use a key that has the scope named in `required_scope`, or ask an admin for one.",
        )
    ],
    404: [
        (
            "not-found",
            "Resource not found",
            "Check the id in the path: use one this service returned (it may have been erased).",
        )
    ],
    413: [
        (
            "payload-too-large",
            "The request body is too large",
            "Send a smaller body: `max_bytes` in the answer is the limit.",
        )
    ],
    422: [
        (
            "validation-error",
            "The request is not valid",
            "Correct the fields listed in `errors` (`loc` says where, `msg` what is wrong) "
            "and send the request again.",
        )
    ],
}

# What to do about a service's own problem of a status, when its ProblemType says nothing.
ADVICE_BY_STATUS = {
    400: "Correct the request as `detail` says and send it again.",
    404: "Check the ids in the request: use ones this service returned.",
    409: "The object's current state does not allow this: read it again and choose an action "
    "its state allows (the answer's extra members say which).",
    412: "Read the object again and repeat the change with its current version (`If-Match`).",
    413: "Send less: the answer says what the limit is.",
    422: "Change the request as `detail` says; sent unchanged it fails again.",
}
DEFAULT_ADVICE = "Read `detail`, correct the request and send it again."


@dataclass(frozen=True)
class DocumentedProblem:
    """One problem type an operation may answer with, and what the caller should do."""

    status: int
    slug: str
    title: str
    advice: str


def problem_catalogue(problems: ProblemMap | None) -> dict[int, list[DocumentedProblem]]:
    """Every problem type of a service (the platform's and its own ``PROBLEMS``), by status."""
    by_status: dict[int, dict[str, DocumentedProblem]] = {}
    for status, entries in PLATFORM_PROBLEM_TYPES.items():
        for slug, title, advice in entries:
            by_status.setdefault(status, {})[slug] = DocumentedProblem(status, slug, title, advice)
    for problem in {**PLATFORM_PROBLEMS, **(problems or {})}.values():
        advice = getattr(problem, "advice", None) or ADVICE_BY_STATUS.get(
            problem.status, DEFAULT_ADVICE
        )
        known = by_status.setdefault(problem.status, {})
        known.setdefault(
            problem.slug, DocumentedProblem(problem.status, problem.slug, problem.title, advice)
        )
    return {status: list(found.values()) for status, found in by_status.items()}


def _problem_response(
    response: dict[str, Any], problems: Sequence[DocumentedProblem], path: str
) -> None:
    lines = [response.get("description", "").strip(), "", "Problem `type` values:"]
    examples: dict[str, Any] = {}
    for problem in problems:
        type_uri = PROBLEM_TYPE_PREFIX + problem.slug
        lines.append(f"- `{type_uri}` ({problem.title}): {problem.advice}")
        examples[problem.slug] = {
            "summary": f"{problem.slug}: {problem.title}",
            "value": {
                "type": type_uri,
                "title": problem.title,
                "status": problem.status,
                "detail": problem.advice,
                "instance": path,
            },
        }
    response["description"] = "\n".join(lines).strip()
    response["content"] = {
        PROBLEM_CONTENT_TYPE: {
            "schema": {"$ref": "#/components/schemas/ProblemDetail"},
            "examples": examples,
        }
    }


def _generic(status: int) -> list[DocumentedProblem]:
    slug, title = HTTP_PROBLEMS.get(status, ("http-error", "HTTP error"))
    if status >= 500:
        slug, title = "internal-error", "Internal server error"
    advice = ADVICE_BY_STATUS.get(status, DEFAULT_ADVICE)
    if status >= 500:
        advice = "Try again later; if it persists, give the `X-Correlation-ID` to the operators."
    return [DocumentedProblem(status, slug, title, advice)]


def _resolve(schema: dict[str, Any], components: Mapping[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = components[schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def example_of(schema: dict[str, Any] | None, components: Mapping[str, Any], depth: int = 0) -> Any:
    """An example value of ``schema``: its own example, else one built from its properties'
    examples (required ones always, optional ones when they have an example)."""
    if not schema or depth > 12:
        return None
    schema = _resolve(schema, components)
    if schema.get("examples"):
        return copy.deepcopy(schema["examples"][0])
    if "example" in schema:
        return copy.deepcopy(schema["example"])
    if "default" in schema and schema["default"] is not None:
        return copy.deepcopy(schema["default"])
    for combined in ("anyOf", "oneOf", "allOf"):
        for option in schema.get(combined, []):
            if _resolve(option, components).get("type") != "null":
                return example_of(option, components, depth + 1)
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        required = set(schema.get("required", []))
        result = {}
        for name, prop in schema.get("properties", {}).items():
            value = example_of(prop, components, depth + 1)
            if name in required or value is not None:
                result[name] = value
        return result
    if kind == "array":
        item = example_of(schema.get("items"), components, depth + 1)
        return [] if item is None else [item]
    return None


def document_problems_and_examples(
    spec: dict[str, Any],
    problems: ProblemMap | None,
    own_operations: Collection[tuple[str, str]] = (),
) -> dict[str, Any]:
    """Finish a service's OpenAPI document in place (and return it).

    Every 4xx/5xx response becomes problem+json naming its problem types and what to do; the
    service's own problem types are listed on ``own_operations`` ((path, method) pairs of its
    routers), the platform's on every operation. Every request body without an example
    gets the one its schema describes (the docs page sends it as it is).
    """
    components = spec.setdefault("components", {}).setdefault("schemas", {})
    components.setdefault("ProblemDetail", ProblemDetail.model_json_schema())
    platform = problem_catalogue(None)
    service = problem_catalogue(problems)
    for path, operations in spec.get("paths", {}).items():
        for method, operation in operations.items():
            catalogue = service if (path, method) in own_operations else platform
            for code, response in operation.get("responses", {}).items():
                if code[0] in "45":
                    status = int(code)
                    _problem_response(response, catalogue.get(status) or _generic(status), path)
            for content in operation.get("requestBody", {}).get("content", {}).values():
                if not ("example" in content or "examples" in content):
                    content["example"] = example_of(content.get("schema"), components)
    for unused in ("HTTPValidationError", "ValidationError"):
        components.pop(unused, None)
    return spec


@dataclass(frozen=True)
class ServiceDocument:
    """One service's OpenAPI document and where a browser reaches the service."""

    name: str
    base_url: str
    document: dict[str, Any] | None
    error: str | None = None
    """Why the document could not be had (the front door says so instead of failing)."""

    @property
    def short_name(self) -> str:
        """``intake`` for ``intake-service``: the prefix of this service's tags."""
        return self.name.removesuffix("-service")


def _rewrite_refs(node: Any, renamed: Mapping[str, str]) -> Any:
    if isinstance(node, dict):
        result = {}
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                name = value.rsplit("/", 1)[-1]
                value = f"#/components/schemas/{renamed.get(name, name)}"
            result[key] = _rewrite_refs(value, renamed)
        return result
    if isinstance(node, list):
        return [_rewrite_refs(item, renamed) for item in node]
    return node


def _merge_schemas(
    services: Sequence[ServiceDocument],
) -> tuple[dict[str, Any], dict[str, dict[str, str]]]:
    """One schema table; a name two services define differently is kept once per service
    (``intake.ReplayCreate``). Returns the table and each service's renames."""
    versions: dict[str, set[str]] = {}
    for service in services:
        for name, schema in (
            (service.document or {}).get("components", {}).get("schemas", {}).items()
        ):
            versions.setdefault(name, set()).add(json.dumps(schema, sort_keys=True))
    clashing = {name for name, texts in versions.items() if len(texts) > 1}
    merged: dict[str, Any] = {}
    renames: dict[str, dict[str, str]] = {}
    for service in services:
        schemas = (service.document or {}).get("components", {}).get("schemas", {})
        renamed = {name: f"{service.short_name}.{name}" for name in schemas if name in clashing}
        renames[service.name] = renamed
        for name, schema in schemas.items():
            merged[renamed.get(name, name)] = _rewrite_refs(schema, renamed)
    return merged, renames


def _overview(services: Sequence[ServiceDocument], links: Mapping[str, str]) -> str:
    lines = [
        "Every Redress service on one page. **Authorize once** (an API key: "
        "`Authorization: Bearer rdr_...`), then *Try it out* on any operation: it is sent to "
        "the service that owns it (the operation's server). Each error answer is an RFC 9457 "
        "problem whose `type` says what went wrong; the responses below say what to do.",
        "",
    ]
    if links:
        lines.append(" · ".join(f"[{label}]({url})" for label, url in links.items()))
        lines.append("")
    for service in services:
        info = (service.document or {}).get("info", {})
        lines.append(f"### {service.name} — {info.get('title', service.name)}")
        if service.document is None:
            lines.append(f"*Not reachable at {service.base_url}: {service.error}*")
        else:
            lines.append(info.get("description", ""))
            lines.append(
                f"\nAt {service.base_url} ([its own page]({service.base_url}/docs)); "
                f"operations tagged `{service.short_name}: ...`."
            )
        lines.append("")
    return "\n".join(lines)


def combine_openapi(
    services: Sequence[ServiceDocument],
    *,
    title: str = "Redress API: every service",
    version: str = "0.1.0",
    links: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """One OpenAPI document of ``services``: tags per service (``intake: complaints``), each
    path carrying ``servers`` (the base URL of every service that serves it; the platform's
    shared endpoints list all of them, so a person picks which service's keys or health to
    see), one security scheme for all (authorise once), schemas merged."""
    reachable = [s for s in services if s.document is not None]
    schemas, renames = _merge_schemas(reachable)
    paths: dict[str, dict[str, Any]] = {}
    tags: dict[str, str] = {}
    security_schemes: dict[str, Any] = {}
    operation_ids: set[str] = set()
    for service in reachable:
        document = _rewrite_refs(service.document, renames[service.name])
        security_schemes.update(document.get("components", {}).get("securitySchemes", {}))
        server = {"url": service.base_url, "description": service.name}
        for path, item in document.get("paths", {}).items():
            if path in paths:  # a platform endpoint every service has: one more server
                paths[path]["servers"].append(server)
                continue
            item = dict(item)
            for method, operation in list(item.items()):
                if not isinstance(operation, dict) or method == "servers":
                    continue
                operation = dict(operation)
                shared = _served_by_several(path, reachable)
                prefix = "every service" if shared else service.short_name
                operation["tags"] = [f"{prefix}: {tag}" for tag in operation.get("tags", ["other"])]
                for tag in operation["tags"]:
                    tags.setdefault(
                        tag,
                        "Served by every service: pick the server in the operation."
                        if shared
                        else info_title(service),
                    )
                operation_id = operation.get("operationId")
                if operation_id:
                    if operation_id in operation_ids:
                        operation_id = f"{service.short_name}_{operation_id}"
                        operation["operationId"] = operation_id
                    operation_ids.add(operation_id)
                item[method] = operation
            item["servers"] = [server]
            paths[path] = item
    return {
        "openapi": "3.1.0",
        "info": {
            "title": title,
            "version": version,
            "description": _overview(services, links or {}),
        },
        "servers": [{"url": reachable[0].base_url}] if reachable else [],
        "tags": [{"name": name, "description": text} for name, text in _ordered(tags)],
        "paths": paths,
        "components": {"schemas": schemas, "securitySchemes": security_schemes},
    }


def info_title(service: ServiceDocument) -> str:
    """The title of ``service``'s document (its name when it has none)."""
    return (service.document or {}).get("info", {}).get("title", service.name)


def _served_by_several(path: str, services: Iterable[ServiceDocument]) -> bool:
    return sum(path in (s.document or {}).get("paths", {}) for s in services) > 1


def operations_of(routes: Iterable[Any], include: Callable[[Any], bool] = lambda _: True) -> set:
    """The (path, method) pairs of FastAPI ``routes``, lower-case methods as in OpenAPI."""
    return {
        (route.path, method.lower())
        for route in routes
        if include(route)
        for method in getattr(route, "methods", None) or ()
    }


def _ordered(tags: dict[str, str]) -> list[tuple[str, str]]:
    """Tags in the services' order (intake first, as a complaint travels), the endpoints every
    service shares last; Swagger UI shows the groups in this order."""
    own = [(name, text) for name, text in tags.items() if not name.startswith("every service")]
    return own + [(name, text) for name, text in tags.items() if name.startswith("every service")]
