"""Lean routes: a busy route's ordinary requests answered below FastAPI's routing, every
other request answered by the route itself, each error in the application's own form."""

from __future__ import annotations

import json

import httpx
from fastapi import FastAPI, Request, Response
from fastapi.routing import APIRoute
from prometheus_client import REGISTRY
from redress_shared.errors import DomainError, ProblemType, install_problem_handlers
from redress_shared.web import EdgeMiddleware, LeanRoute, LeanRoutes


class Refused(DomainError):
    """A use case's refusal."""


def _app() -> tuple[FastAPI, list[str]]:
    """An app whose ``POST /v1/lean-items`` has a lean path taking JSON objects with a
    ``name``; the list says which path answered each request."""
    answered_by: list[str] = []
    app = FastAPI()
    install_problem_handlers(app, {Refused: ProblemType(409, "refused", "Refused")})

    @app.post("/v1/lean-items", status_code=201)
    async def create_item(request: Request) -> dict:
        answered_by.append("route")
        return {"size": len(await request.body())}

    async def lean(request: Request, body: bytes) -> Response | None:
        if request.headers.get("content-type") != "application/json":
            return None
        document = json.loads(body)
        if document.get("name") == "refused":
            raise Refused("not this one")
        if document.get("name") == "broken":
            raise RuntimeError("a bug")
        answered_by.append("lean")
        return Response(json.dumps({"size": len(body)}), 201, media_type="application/json")

    route = next(r for r in app.routes if isinstance(r, APIRoute) and r.path == "/v1/lean-items")
    app.add_middleware(LeanRoutes, routes=[LeanRoute(route, lean)])
    app.add_middleware(EdgeMiddleware, max_bytes=1024, origins=[])
    return app, answered_by


def _client(app: FastAPI) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://test")


def _count(status: str) -> float:
    labels = {"method": "POST", "route": "/v1/lean-items", "status": status}
    return REGISTRY.get_sample_value("redress_http_requests_total", labels) or 0.0


async def test_an_ordinary_request_is_answered_by_the_lean_path_and_counted_by_route():
    app, answered_by = _app()
    before = _count("201")
    async with _client(app) as client:
        answer = await client.post("/v1/lean-items", json={"name": "kettle"})
    assert answered_by == ["lean"]
    assert answer.status_code == 201
    assert answer.json() == {"size": len(answer.request.content)}
    assert "x-correlation-id" in answer.headers  # inside the edge, as every route
    assert _count("201") == before + 1


async def test_a_declined_request_reaches_the_route_with_its_whole_body():
    app, answered_by = _app()
    async with _client(app) as client:
        answer = await client.post(
            "/v1/lean-items", content=b'{"name": "kettle"}', headers={"Content-Type": "text/plain"}
        )

        async def chunks():  # no Content-Length: the route reads it, within the limit
            yield b'{"name": '
            yield b'"kettle"}'

        streamed = await client.post(
            "/v1/lean-items", content=chunks(), headers={"Content-Type": "application/json"}
        )
    assert answered_by == ["route", "route"]
    assert (answer.status_code, answer.json()) == (201, {"size": 18})
    assert (streamed.status_code, streamed.json()) == (201, {"size": 18})


async def test_errors_of_the_lean_path_are_the_applications_problems():
    app, answered_by = _app()
    before = _count("409")
    async with _client(app) as client:
        refused = await client.post("/v1/lean-items", json={"name": "refused"})
        broken = await client.post("/v1/lean-items", json={"name": "broken"})
    assert refused.status_code == 409
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["type"] == "urn:redress:problem:refused"
    assert refused.json()["detail"] == "not this one"
    assert refused.json()["instance"] == "/v1/lean-items"
    assert _count("409") == before + 1
    assert broken.status_code == 500
    assert broken.json()["type"] == "urn:redress:problem:internal-error"
    assert answered_by == []


async def test_other_paths_and_methods_go_to_the_application():
    app, answered_by = _app()
    async with _client(app) as client:
        other_method = await client.get("/v1/lean-items")
        trailing_slash = await client.post("/v1/lean-items/", json={"name": "kettle"})
    assert other_method.status_code == 405
    assert trailing_slash.status_code == 307  # FastAPI's redirect, not the lean path
    assert answered_by == []
