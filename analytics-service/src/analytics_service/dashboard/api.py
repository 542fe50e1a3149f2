"""The ops dashboard's router: one static page that draws the figure endpoints as SVG charts.

The page itself needs no key (like ``/docs``); it asks for one, or takes it from the URL
fragment (``/dashboard#key=...``, never sent to the server), and calls the JSON endpoints with
``Authorization: Bearer``. Everything it needs ships in this package: no CDN, no library.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import Response
from redress_shared.errors import NotFound
from redress_shared.web import page_security_headers

ASSETS_DIR = Path(__file__).parent
ASSETS = {"dashboard.js": "text/javascript", "dashboard.css": "text/css"}
# Only this service's own files run on the page, and the key never leaves in a Referer.
SECURITY_HEADERS = page_security_headers()

dashboard_router = APIRouter(tags=["dashboard"])


@dashboard_router.get(
    "/dashboard",
    summary="The ops dashboard (HTML page)",
    description=(
        "Trend, supplier-defect and SLA charts drawn in the browser from the JSON endpoints. "
        "The page needs no key; open `/dashboard#key=<API key>` or type the key into the page "
        "(it needs the `analytics:read` scope). The fragment also takes `from`, `to` "
        "(YYYY-MM-DD), `bucket` and `group_by`."
    ),
    response_class=Response,
    responses={
        200: {
            "content": {"text/html": {"example": '<!doctype html><html lang="en">…</html>'}},
            "description": "The page",
        }
    },
)
async def dashboard_page() -> Response:
    """Serve the dashboard page."""
    page = (ASSETS_DIR / "dashboard.html").read_bytes()
    return Response(page, media_type="text/html; charset=utf-8", headers=SECURITY_HEADERS)


@dashboard_router.get("/dashboard/{asset}", include_in_schema=False)
async def dashboard_asset(asset: str) -> Response:
    """Serve the page's script and style sheet (only those files)."""
    if asset not in ASSETS:
        raise NotFound("dashboard asset", asset)
    content = (ASSETS_DIR / asset).read_bytes()
    return Response(content, media_type=ASSETS[asset], headers=SECURITY_HEADERS)
