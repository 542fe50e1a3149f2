"""What the services' own web pages (the API docs, the analytics dashboard) share: one content
security policy, and the cross-origin rules that let the docs front door call every service.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, FastAPI, Header, Response
from starlette.middleware.cors import CORSMiddleware

from redress_shared.errors import Problem

_LOOPBACK_TWINS = {"127.0.0.1": "localhost", "localhost": "127.0.0.1"}


def page_security_headers(connect_to: Iterable[str] = ()) -> dict[str, str]:
    """Headers of every page a service serves: only the service's own files run on it, the key
    never leaves in a Referer, and ``fetch`` reaches this origin plus ``connect_to`` only."""
    connect = " ".join(["'self'", *sorted(set(connect_to))])
    return {
        "Content-Security-Policy": (
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            f"connect-src {connect}; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
        ),
        "Referrer-Policy": "no-referrer",
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "no-cache",
    }


def origin_of(url: str) -> str:
    """``scheme://host[:port]`` of ``url`` (what a browser sends as ``Origin``)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def loopback_twins(origins: Iterable[str]) -> list[str]:
    """``origins`` plus, for each loopback one, the same port under its other name
    (``localhost`` for ``127.0.0.1`` and back): people open either."""
    result: list[str] = []
    for origin in origins:
        result.append(origin)
        parts = urlsplit(origin)
        twin = _LOOPBACK_TWINS.get(parts.hostname or "")
        if twin is not None:
            port = f":{parts.port}" if parts.port else ""
            result.append(f"{parts.scheme}://{twin}{port}")
    return list(dict.fromkeys(result))


def allow_cross_origin_calls(app: FastAPI, origins: Iterable[str]) -> None:
    """Let pages from ``origins`` (the docs front door on another service) call this API.

    Bearer keys travel in a header, never in cookies, so credentials stay off; the headers a
    person sends from the docs (key, idempotency, correlation) and reads back are listed.
    """
    app.add_middleware(
        CORSMiddleware,
        allow_origins=list(origins),
        allow_methods=["*"],
        allow_headers=[
            "Accept",
            "Authorization",
            "Content-Type",
            "Idempotency-Key",
            "If-Match",
            "X-Correlation-ID",
        ],
        expose_headers=["Location", "X-Correlation-ID", "Retry-After", "ETag"],
        max_age=600,
    )


def set_etag(response: Response, version: int) -> None:
    """Answer with the version the client sends back as ``If-Match``."""
    response.headers["ETag"] = f'"{version}"'


def expected_version(
    if_match: Annotated[
        str | None,
        Header(
            alias="If-Match",
            description="The ETag of the version you read; a stale one is refused with 412.",
        ),
    ] = None,
) -> int | None:
    """The version an ``If-Match`` header names (None for absent or ``*``); a header that is
    no ETag of this API is a malformed request, an HTTP concern of its own."""
    if if_match is None or if_match.strip() == "*":
        return None
    tag = if_match.strip().removeprefix("W/").strip('"')
    if not tag.isdigit():
        raise Problem(
            400, "invalid-if-match", "If-Match is not an ETag of this API", f"Got {if_match!r}"
        )
    return int(tag)


ExpectedVersion = Annotated[int | None, Depends(expected_version)]
"""FastAPI dependency: the version ``If-Match`` names, for optimistic concurrency."""
