"""The platform's one HTTP middleware: cross-origin rules, correlation id, body limit and
metrics."""

from __future__ import annotations

import httpx
from fastapi import FastAPI, Request
from prometheus_client import REGISTRY
from redress_shared.errors import install_problem_handlers
from redress_shared.web import EdgeMiddleware

FRONT_DOOR = "http://127.0.0.1:8001"


def _app(max_bytes: int = 64) -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)

    @app.post("/v1/edge-echo/{item}")
    async def echo(item: str, request: Request) -> dict:
        return {"item": item, "size": len(await request.body())}

    app.add_middleware(EdgeMiddleware, max_bytes=max_bytes, origins=[FRONT_DOOR])
    return app


def _client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


def _count(route: str, status: str) -> float:
    labels = {"method": "POST", "route": route, "status": status}
    return REGISTRY.get_sample_value("redress_http_requests_total", labels) or 0.0


async def test_correlation_id_is_taken_or_made_and_echoed():
    async with _client(_app()) as client:
        given = await client.post("/v1/edge-echo/a", headers={"X-Correlation-ID": "abc-123"})
        made = await client.post("/v1/edge-echo/a")
    assert given.headers["x-correlation-id"] == "abc-123"
    assert len(made.headers["x-correlation-id"]) == 32
    # Without Origin the answer still says it varies by Origin (for caches).
    assert made.headers["vary"] == "Origin"
    assert "access-control-allow-origin" not in made.headers


async def test_cross_origin_rules_for_the_front_door_only():
    async with _client(_app()) as client:
        simple = await client.post("/v1/edge-echo/a", headers={"Origin": FRONT_DOOR})
        preflight = {
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type,idempotency-key",
        }
        allowed = await client.options(
            "/v1/edge-echo/a", headers={"Origin": FRONT_DOOR, **preflight}
        )
        stranger = await client.options(
            "/v1/edge-echo/a", headers={"Origin": "http://attacker.example", **preflight}
        )
    assert simple.headers["access-control-allow-origin"] == FRONT_DOOR
    assert "X-Correlation-ID" in simple.headers["access-control-expose-headers"]
    assert "x-correlation-id" in simple.headers
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == FRONT_DOOR
    assert stranger.status_code == 400
    assert "access-control-allow-origin" not in stranger.headers


async def test_a_body_over_the_limit_is_a_problem_declared_or_streamed():
    async with _client(_app(max_bytes=64)) as client:
        declared = await client.post("/v1/edge-echo/a", content=b"x" * 65)

        async def chunks():
            for _ in range(5):
                yield b"x" * 20

        streamed = await client.post("/v1/edge-echo/a", content=chunks())
        within = await client.post("/v1/edge-echo/a", content=b"x" * 64)
    for answer in (declared, streamed):
        assert answer.status_code == 413
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.json()["type"] == "urn:redress:problem:payload-too-large"
        assert "x-correlation-id" in answer.headers
    assert declared.json()["max_bytes"] == 64
    assert within.status_code == 200 and within.json() == {"item": "a", "size": 64}


async def test_requests_are_counted_by_route_template():
    before = _count("/v1/edge-echo/{item}", "200")
    async with _client(_app()) as client:
        for item in ("a", "b", "c"):
            assert (await client.post(f"/v1/edge-echo/{item}")).status_code == 200
    assert _count("/v1/edge-echo/{item}", "200") == before + 3
