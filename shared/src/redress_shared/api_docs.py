"""The API docs every service serves itself, with no CDN: its own page and the front door.

- ``/docs``: this service's operations (Swagger UI).
- ``/docs/all``: the front door, every service's operations on one page
  (``/docs/all/openapi.json``, merged by :func:`~redress_shared.openapi_docs.combine_openapi`
  from the documents of the services in ``REDRESS_DOCS_SERVICES``); authorise once, try any
  operation, each sent to its own service (which lets the page's origin call it: CORS).
- ``/docs/events/asyncapi.json``: the AsyncAPI description of the events.

Swagger UI's script and style sheet come from the ``fastapi-swagger`` package (it tracks
Swagger UI's releases); the page starts it from a file of ours, not an inline script, so the
pages keep the dashboard's content security policy.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from html import escape
from importlib import resources
from typing import Any

import httpx
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, Response

from redress_shared.contract import asyncapi_document
from redress_shared.errors import NotFound
from redress_shared.openapi_docs import ServiceDocument, combine_openapi
from redress_shared.settings import ServiceSettings
from redress_shared.web import origin_of, page_security_headers

FRONT_DOOR_PATH = "/docs/all"
ASYNCAPI_PATH = "/docs/events/asyncapi.json"
DASHBOARD_PATH = "/dashboard"
PEER_DOCUMENT_TIMEOUT_SECONDS = 5.0

_SWAGGER_UI = resources.files("fastapi_swagger") / "resources"
_OURS = resources.files("redress_shared") / "static"
ASSETS: dict[str, tuple[Any, str]] = {
    "swagger-ui-bundle.js": (_SWAGGER_UI / "swagger-ui-bundle.js", "text/javascript"),
    "swagger-ui.css": (_SWAGGER_UI / "swagger-ui.css", "text/css"),
    "favicon-32x32.png": (_SWAGGER_UI / "favicon-32x32.png", "image/png"),
    "docs.js": (_OURS / "docs.js", "text/javascript"),
    "docs.css": (_OURS / "docs.css", "text/css"),
}
_asset_bytes: dict[str, bytes] = {}


def _page(title: str, openapi_url: str, links: dict[str, str], root: str) -> str:
    nav = " ".join(f'<a href="{escape(url)}">{escape(label)}</a>' for label, url in links.items())
    assets = f"{root}/docs/assets"
    return f"""<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <meta name="referrer" content="no-referrer">
  <title>{escape(title)}</title>
  <link rel="icon" href="{assets}/favicon-32x32.png">
  <link rel="stylesheet" href="{assets}/swagger-ui.css">
  <link rel="stylesheet" href="{assets}/docs.css">
</head>
<body>
  <nav class="redress-links" aria-label="Redress documentation">
    <strong>{escape(title)}</strong> {nav}
  </nav>
  <main id="swagger-ui" data-openapi-url="{escape(openapi_url)}"></main>
  <script src="{assets}/swagger-ui-bundle.js"></script>
  <script src="{assets}/docs.js"></script>
</body>
</html>
"""


class ApiDocs:
    """The docs pages of one service, configured by its settings."""

    def __init__(self, settings: ServiceSettings) -> None:
        self.settings = settings
        self.services = dict(settings.docs_services)
        self.headers = page_security_headers(origin_of(url) for url in self.services.values())

    def html(self, content: str) -> Response:
        """A docs page with the pages' security headers."""
        return Response(content, media_type="text/html; charset=utf-8", headers=self.headers)

    async def documents(self, app: FastAPI) -> list[ServiceDocument]:
        """Every configured service's document (this one's from memory, the others' fetched);
        one that cannot be had is listed with the reason."""
        own = self.settings.service_name

        async def fetch(client: httpx.AsyncClient, name: str, url: str) -> ServiceDocument:
            if name == own:
                return ServiceDocument(name, url, app.openapi())
            try:
                answer = await client.get(f"{url}/openapi.json")
                answer.raise_for_status()
                return ServiceDocument(name, url, answer.json())
            except (httpx.HTTPError, ValueError) as exc:
                return ServiceDocument(name, url, None, error=type(exc).__name__)

        async with httpx.AsyncClient(timeout=PEER_DOCUMENT_TIMEOUT_SECONDS) as client:
            found = await asyncio.gather(
                *(fetch(client, name, url) for name, url in self.services.items())
            )
        if own not in self.services:  # a service outside the configured set still shows
            found.insert(0, ServiceDocument(own, "", app.openapi()))
        return list(found)

    def asyncapi(self) -> dict[str, Any]:
        """The AsyncAPI document: the stack's complete one when configured, else the topics
        and messages (without who sends and receives them, which this process cannot know)."""
        path = self.settings.docs_asyncapi_file
        if path is not None and path.is_file():
            return json.loads(path.read_text("utf-8"))
        return asyncapi_document()


def docs_router(settings: ServiceSettings) -> APIRouter:
    """The routes of the docs pages, their assets, the front door's document and AsyncAPI."""
    docs = ApiDocs(settings)
    router = APIRouter(include_in_schema=False)

    @router.get("/docs")
    async def service_docs(request: Request) -> Response:
        """This service's API (Swagger UI), linking to the front door and the events."""
        root = request.scope.get("root_path", "").rstrip("/")
        links = {
            "All services": f"{root}{FRONT_DOOR_PATH}",
            "Events (AsyncAPI)": root + ASYNCAPI_PATH,
        }
        if any(getattr(r, "path", None) == DASHBOARD_PATH for r in request.app.routes):
            links["Dashboard"] = root + DASHBOARD_PATH
        title = request.app.title
        return docs.html(_page(title, f"{root}{request.app.openapi_url}", links, root))

    @router.get(FRONT_DOOR_PATH)
    async def front_door(request: Request) -> Response:
        """The front door: every service's operations on one page."""
        root = request.scope.get("root_path", "").rstrip("/")
        links = {"This service only": f"{root}/docs", "Events (AsyncAPI)": root + ASYNCAPI_PATH}
        return docs.html(
            _page(
                "Redress API: every service", f"{root}{FRONT_DOOR_PATH}/openapi.json", links, root
            )
        )

    @router.get(f"{FRONT_DOOR_PATH}/openapi.json")
    async def combined_document(request: Request) -> JSONResponse:
        """The OpenAPI document of every configured service, merged."""
        own_url = str(request.base_url).rstrip("/")
        found = [
            service if service.base_url else replace(service, base_url=own_url)
            for service in await docs.documents(request.app)
        ]
        links = {"Events (AsyncAPI)": own_url + ASYNCAPI_PATH}
        for service in found:
            if DASHBOARD_PATH in (service.document or {}).get("paths", {}):
                links["Dashboard"] = service.base_url + DASHBOARD_PATH
        return JSONResponse(
            combine_openapi(found, links=links), headers={"Cache-Control": "no-cache"}
        )

    @router.get(ASYNCAPI_PATH)
    async def events_document() -> JSONResponse:
        """The AsyncAPI 3.0 description of every topic and event."""
        return JSONResponse(docs.asyncapi())

    @router.get("/docs/assets/{name}")
    async def asset(name: str) -> Response:
        """Swagger UI's files and ours (only those)."""
        if name not in ASSETS:
            raise NotFound("docs asset", name)
        source, media_type = ASSETS[name]
        if name not in _asset_bytes:
            _asset_bytes[name] = source.read_bytes()
        return Response(_asset_bytes[name], media_type=media_type, headers=docs.headers)

    return router
