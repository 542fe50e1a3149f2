"""RFC 9457 problem+json errors: one exception type, one response shape, stable ``type`` URIs."""

from __future__ import annotations

from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

PROBLEM_CONTENT_TYPE = "application/problem+json"
PROBLEM_TYPE_PREFIX = "urn:redress:problem:"

log = structlog.get_logger(__name__)


class ProblemDetail(BaseModel):
    """The body of every error response (RFC 9457)."""

    type: str = Field(examples=[PROBLEM_TYPE_PREFIX + "validation-error"])
    title: str = Field(examples=["The request is not valid"])
    status: int = Field(examples=[422])
    detail: str | None = Field(default=None, examples=["body: text must not be blank"])
    instance: str | None = Field(default=None, examples=["/v1/complaints"])
    errors: list[dict[str, Any]] | None = Field(
        default=None, description="Field-level validation errors, when there are any."
    )

    model_config = {"extra": "allow"}


class Problem(Exception):
    """Raise anywhere in a request to answer with a problem+json response."""

    def __init__(
        self,
        status: int,
        slug: str,
        title: str,
        detail: str | None = None,
        headers: dict[str, str] | None = None,
        **extensions: Any,
    ) -> None:
        super().__init__(detail or title)
        self.status = status
        self.slug = slug
        self.title = title
        self.detail = detail
        self.headers = headers
        self.extensions = extensions


class NotFound(Problem):
    """The addressed resource does not exist."""

    def __init__(self, what: str, identifier: object) -> None:
        super().__init__(404, "not-found", f"{what} not found", f"No {what} with id {identifier}")


def problem_response(
    request: Request,
    status: int,
    slug: str,
    title: str,
    detail: str | None = None,
    headers: dict[str, str] | None = None,
    **extensions: Any,
) -> JSONResponse:
    """Build a problem+json response for ``request``."""
    body = ProblemDetail(
        type=PROBLEM_TYPE_PREFIX + slug,
        title=title,
        status=status,
        detail=detail,
        instance=request.url.path,
        **extensions,
    )
    return JSONResponse(
        body.model_dump(exclude_none=True),
        status_code=status,
        media_type=PROBLEM_CONTENT_TYPE,
        headers=headers,
    )


_HTTP_SLUGS = {
    400: ("bad-request", "The request is malformed"),
    401: ("unauthenticated", "Authentication is required"),
    403: ("forbidden", "The API key lacks the required scope"),
    404: ("not-found", "Resource not found"),
    405: ("method-not-allowed", "Method not allowed"),
    409: ("conflict", "The request conflicts with the current state"),
    413: ("payload-too-large", "The request body is too large"),
    415: ("unsupported-media-type", "Unsupported media type"),
    422: ("validation-error", "The request is not valid"),
}


def _json_safe_errors(errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {"loc": list(err.get("loc", ())), "msg": str(err.get("msg")), "type": err.get("type")}
        for err in errors
    ]


async def _on_problem(request: Request, exc: Problem) -> JSONResponse:
    return problem_response(
        request, exc.status, exc.slug, exc.title, exc.detail, exc.headers, **exc.extensions
    )


async def _on_validation(request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = exc.errors()
    if any(err.get("type") == "json_invalid" for err in errors):
        return problem_response(
            request,
            400,
            "malformed-json",
            "The request body is not valid JSON",
            "; ".join(str(err.get("ctx", {}).get("error", err.get("msg"))) for err in errors),
        )
    detail = "; ".join(
        f"{'.'.join(str(p) for p in err.get('loc', ()))}: {err.get('msg')}" for err in errors
    )
    return problem_response(
        request,
        422,
        "validation-error",
        "The request is not valid",
        detail,
        errors=_json_safe_errors(errors),
    )


async def _on_http_exception(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    slug, title = _HTTP_SLUGS.get(exc.status_code, ("http-error", "HTTP error"))
    detail = exc.detail if isinstance(exc.detail, str) and exc.detail != title else None
    return problem_response(request, exc.status_code, slug, title, detail, exc.headers)


async def _on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    if isinstance(exc, RecursionError):
        # json.loads on absurdly deep nesting; the input is at fault, not the server.
        return problem_response(
            request, 400, "malformed-json", "The request body is nested too deeply"
        )
    log.exception("unhandled_error", path=request.url.path)
    return problem_response(request, 500, "internal-error", "Internal server error")


def install_problem_handlers(app: FastAPI) -> None:
    """Make every error of ``app`` answer with problem+json."""
    app.add_exception_handler(Problem, _on_problem)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _on_validation)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _on_http_exception)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, _on_unexpected)


class BodySizeLimitMiddleware:
    """Refuse request bodies above ``max_bytes`` with a 413 problem before the app reads them.

    Checks ``Content-Length`` up front and counts streamed chunks too, so a chunked
    upload cannot slip past the limit.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.max_bytes:
            response = problem_response(
                Request(scope, receive),
                413,
                "payload-too-large",
                "The request body is too large",
                f"The limit is {self.max_bytes} bytes",
                max_bytes=self.max_bytes,
            )
            await response(scope, receive, send)
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    # An HTTPException passes through FastAPI's body parsing untouched
                    # and reaches the problem handler.
                    raise StarletteHTTPException(413, f"The limit is {self.max_bytes} bytes")
            return message

        await self.app(scope, limited_receive, send)
