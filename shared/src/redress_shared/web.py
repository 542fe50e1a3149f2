"""What the services' own web pages (the API docs, the analytics dashboard) share: one content
security policy, and the cross-origin rules that let the docs front door call every service.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlsplit

import structlog
from fastapi import Depends, Header, Request, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.cors import CORSMiddleware
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from redress_shared.errors import Problem, problem_response
from redress_shared.observability import (
    CORRELATION_HEADER,
    HTTP_LATENCY,
    HTTP_REQUESTS,
    bind_correlation_id,
)

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


def cross_origin_rules(origins: Iterable[str]) -> CORSMiddleware:
    """Let pages from ``origins`` (the docs front door on another service) call this API.

    Bearer keys travel in a header, never in cookies, so credentials stay off; the headers a
    person sends from the docs (key, idempotency, correlation) and reads back are listed.
    (Starlette's CORS middleware, used for its rules: :class:`EdgeMiddleware` calls it.)
    """
    return CORSMiddleware(
        _no_app,
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


async def _no_app(scope: Scope, receive: Receive, send: Send) -> None:
    raise RuntimeError("cross_origin_rules() answers preflights and adds headers only")


_CORRELATION_KEY = CORRELATION_HEADER.lower().encode()


class EdgeMiddleware:
    """What the platform does around every HTTP request, in one ASGI layer: cross-origin
    rules (:func:`cross_origin_rules`), the correlation id (``X-Correlation-ID`` taken or
    made, bound for logs and events, echoed on the answer), the body-size limit (413
    problem+json before the app reads a body above ``max_bytes``, counting streamed chunks
    too) and the request metrics (by route template).

    One layer instead of four: each layer wrapped ``send`` (and some ``receive``) and read
    the headers again, and on a small request that cost more than the work itself."""

    def __init__(self, app: ASGIApp, *, max_bytes: int, origins: Iterable[str]) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self._cors = cross_origin_rules(origins)
        self._metrics: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        origin = incoming = declared = None
        preflight = False
        for name, value in scope["headers"]:
            if name == b"origin":
                origin = value
            elif name == _CORRELATION_KEY:
                incoming = value
            elif name == b"content-length":
                declared = value
            elif name == b"access-control-request-method":
                preflight = True
        method = scope["method"]
        request_headers = Headers(scope=scope) if origin is not None else None
        if request_headers is not None and preflight and method == "OPTIONS":
            response = self._cors.preflight_response(request_headers=request_headers)
            await response(scope, receive, send)
            return

        structlog.contextvars.clear_contextvars()
        correlation_id = bind_correlation_id(incoming.decode("latin-1")[:128] if incoming else None)
        correlation = (_CORRELATION_KEY, correlation_id.encode())
        cors = self._cors
        started = time.perf_counter()
        status = 500

        async def edge_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append(correlation)
                message["headers"] = headers
                if request_headers is not None:
                    await cors.send(message, send, request_headers=request_headers)
                    return
                _vary_on_origin(headers)
            await send(message)

        try:
            if declared is not None and declared.isdigit():
                if int(declared) > self.max_bytes:
                    await self._too_large(scope, receive, edge_send)
                    return
                # The server reads no more than the declared length: nothing to count.
                await self.app(scope, receive, edge_send)
            else:
                await self.app(scope, self._limited(receive), edge_send)
        finally:
            self._record(method, getattr(scope.get("route"), "path", "unmatched"), status, started)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = problem_response(
            Request(scope, receive),
            413,
            "payload-too-large",
            "The request body is too large",
            f"The limit is {self.max_bytes} bytes",
            max_bytes=self.max_bytes,
        )
        await response(scope, receive, send)

    def _limited(self, receive: Receive) -> Receive:
        """``receive`` refusing a streamed body once it passes the limit."""
        max_bytes = self.max_bytes
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > max_bytes:
                    # An HTTPException passes through FastAPI's body parsing untouched
                    # and reaches the problem handler.
                    raise StarletteHTTPException(413, f"The limit is {max_bytes} bytes")
            return message

        return limited_receive

    def _record(self, method: str, route: str, status: int, started: float) -> None:
        key = (method, route, status)
        children = self._metrics.get(key)
        if children is None:  # a route template and status seen first: few, kept
            children = (
                HTTP_REQUESTS.labels(method, route, str(status)),
                HTTP_LATENCY.labels(method, route),
            )
            self._metrics[key] = children
        children[0].inc()
        children[1].observe(time.perf_counter() - started)


def _vary_on_origin(headers: list[tuple[bytes, bytes]]) -> None:
    """Add ``Origin`` to the answer's ``Vary`` (one header), as the CORS rules do for a
    request without ``Origin``: a cache must not serve it to a page of another origin."""
    found = [index for index, (name, _) in enumerate(headers) if name == b"vary"]
    values = [headers[index][1] for index in found]
    value = b", ".join([*values, b"Origin"])
    for index in reversed(found[1:]):
        del headers[index]
    if found:
        headers[found[0]] = (b"vary", value)
    else:
        headers.append((b"vary", value))


LeanHandler = Callable[[Request, bytes], Awaitable[Response | None]]
"""Answers an ordinary request of a lean route (its body read whole), or None: the request is
not ordinary (a wrong header, an invalid body, a missing key), the application answers it."""


@dataclass(frozen=True)
class LeanRoute:
    """A route of the application whose ordinary requests :class:`LeanRoutes` answers itself.

    ``route`` stays the route the OpenAPI document shows and the one that answers every
    request ``handle`` declines, so errors keep their exact form (status, problem type,
    which error wins). ``handle`` takes only a request the route would accept, and answers
    it as the route does (same status, headers and body). ``route`` has no path parameters.
    """

    route: BaseRoute
    handle: LeanHandler


class LeanRoutes:
    """ASGI layer that answers the ordinary requests of a few busy routes directly, below
    FastAPI's routing, dependency solving and response validation, and hands everything else
    to the application.

    Measured on intake's ``POST /v1/complaints``: the layers between the edge and the
    endpoint (exception middleware, router, included-router matching, two exit stacks per
    request, dependency solving, response validation) cost more CPU than the endpoint's own
    parsing, authentication and answer. Exceptions raised by a handler are answered by the
    application's own exception handlers (as its exception middleware would), so a domain
    error reads the same on both paths. Only requests with a declared ``Content-Length``
    are taken (the edge has already refused one above the limit); a streamed body goes to
    the application, which counts it against the limit."""

    def __init__(self, app: ASGIApp, *, routes: Iterable[LeanRoute]) -> None:
        self.app = app
        self._routes: dict[tuple[str, str], LeanRoute] = {}
        for lean in routes:
            path = getattr(lean.route, "path", "")
            assert "{" not in path, f"a lean route has no path parameters: {path}"
            for method in getattr(lean.route, "methods", None) or ():
                self._routes[(method, path)] = lean

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        lean = None
        if scope["type"] == "http" and not scope.get("root_path"):
            lean = self._routes.get((scope["method"], scope["path"]))
        if lean is None or not _declares_length(scope):
            await self.app(scope, receive, send)
            return
        body = await _read_body(receive)
        if body is None:  # the client went away before its body arrived: nobody to answer
            return
        replay = _replaying(body, receive)
        scope["route"] = lean.route  # the metrics' label, as when the router matches it
        request = Request(scope, replay)
        try:
            response = await lean.handle(request, body)
        except Exception as exc:
            on_error = _exception_handler(scope["app"], exc)
            if on_error is None:
                raise  # as the exception middleware does: the server-error layer answers 500
            if inspect.iscoroutinefunction(on_error):
                response = await on_error(request, exc)
            else:
                response = await run_in_threadpool(on_error, request, exc)
        if response is None:
            await self.app(scope, replay, send)
            return
        await response(scope, replay, send)


def _declares_length(scope: Scope) -> bool:
    return any(name == b"content-length" for name, _ in scope["headers"])


async def _read_body(receive: Receive) -> bytes | None:
    """The whole body (the server delivers no more than the declared length); None when
    the client disconnected first."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replaying(body: bytes, receive: Receive) -> Receive:
    """``receive`` that gives ``body`` first (already read), then what the server sends."""
    pending = True

    async def replay() -> Message:
        nonlocal pending
        if pending:
            pending = False
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def _exception_handler(app: Any, exc: Exception) -> Callable[..., Awaitable[Response]] | None:
    """The handler the application's exception middleware would call for ``exc``: by status
    for an HTTP exception, else by the nearest class; None for what only the server-error
    layer handles (``Exception`` itself)."""
    handlers = app.exception_handlers
    if isinstance(exc, StarletteHTTPException) and exc.status_code != 500:
        by_status = handlers.get(exc.status_code)
        if by_status is not None:
            return by_status
    for cls in type(exc).__mro__:
        if cls is Exception:
            return None
        if cls in handlers:
            return handlers[cls]
    return None


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
