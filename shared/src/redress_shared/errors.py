"""RFC 9457 problem+json errors: one response shape, stable ``type`` URIs.

Use cases raise :class:`DomainError` subclasses, which say what went wrong in the domain's
terms and know nothing of HTTP. Each service declares once, at its edge, which problem each
error is (a :data:`ProblemMap` given to ``create_app``). :class:`Problem` is for the HTTP
layer itself (authentication, body limits, a malformed header), never for a use case.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException

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


class DomainError(Exception):
    """A use case's refusal, in the domain's own terms.

    ``detail`` explains this occurrence to a person; ``extensions`` become extra members of the
    problem body (the id of the conflicting object, the allowed transitions). A subclass may set
    ``title`` to refine the title its problem type gives.
    """

    title: str | None = None

    def __init__(self, detail: str | None = None, **extensions: Any) -> None:
        super().__init__(detail or type(self).__name__)
        self.detail = detail
        self.extensions = extensions


class NotFound(DomainError):
    """The addressed object does not exist (or is not visible to the caller)."""

    def __init__(self, what: str, identifier: object) -> None:
        super().__init__(f"No {what} with id {identifier}")
        self.title = f"{what} not found"


@dataclass(frozen=True)
class ProblemType:
    """How one kind of :class:`DomainError` is answered over HTTP."""

    status: int
    slug: str
    title: str
    headers: Mapping[str, str] | None = None
    advice: str | None = None
    """What the caller should do about it (the API docs show it beside the ``type``)."""


ProblemMap = Mapping[type[DomainError], ProblemType]
"""A service's edge: which problem each of its domain errors is."""

PLATFORM_PROBLEMS: ProblemMap = {NotFound: ProblemType(404, "not-found", "Resource not found")}
"""The problems every service shares; a service's own map is added to these."""


def problem_type_for(error: DomainError, problems: ProblemMap) -> ProblemType | None:
    """The problem type of ``error``: its own class's, else the nearest base class's."""
    for cls in type(error).__mro__:
        found = problems.get(cls)  # type: ignore[call-overload]
        if found is not None:
            return found
    return None


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


HTTP_PROBLEMS: dict[int, tuple[str, str]] = {
    # The problem (slug, title) of an HTTP-level error that no domain error explains.
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
    slug, title = HTTP_PROBLEMS.get(exc.status_code, ("http-error", "HTTP error"))
    detail = exc.detail if isinstance(exc.detail, str) and exc.detail != title else None
    return problem_response(request, exc.status_code, slug, title, detail, exc.headers)


# SQLSTATEs PostgreSQL answers for text it cannot store: a NUL character (U+0000) in a text
# column (22021) or in JSONB (22P05). Valid JSON and valid UTF-8 can carry it.
UNSTORABLE_TEXT_SQLSTATES = frozenset({"22021", "22P05"})


def _is_unstorable_text(exc: Exception) -> bool:
    return isinstance(exc, DBAPIError) and (
        getattr(exc.orig, "sqlstate", None) in UNSTORABLE_TEXT_SQLSTATES
        or getattr(getattr(exc.orig, "__cause__", None), "sqlstate", None)
        in UNSTORABLE_TEXT_SQLSTATES
    )


async def _on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    if isinstance(exc, RecursionError):
        # json.loads on absurdly deep nesting; the input is at fault, not the server.
        return problem_response(
            request, 400, "malformed-json", "The request body is nested too deeply"
        )
    log.exception("unhandled_error", path=request.url.path)
    return problem_response(request, 500, "internal-error", "Internal server error")


async def _on_database_error(request: Request, exc: DBAPIError) -> JSONResponse:
    if _is_unstorable_text(exc):
        # The input is at fault; its transaction was rolled back, so nothing was written.
        return problem_response(
            request,
            422,
            "validation-error",
            "The request is not valid",
            "A text contains a NUL character (U+0000), which cannot be stored; remove it.",
        )
    return await _on_unexpected(request, exc)


def _domain_error_handler(problems: ProblemMap):  # type: ignore[no-untyped-def]
    async def on_domain_error(request: Request, exc: DomainError) -> JSONResponse:
        problem = problem_type_for(exc, problems)
        if problem is None:
            log.error("unmapped_domain_error", error=type(exc).__name__, path=request.url.path)
            return problem_response(request, 500, "internal-error", "Internal server error")
        return problem_response(
            request,
            problem.status,
            problem.slug,
            exc.title or problem.title,
            exc.detail,
            dict(problem.headers) if problem.headers else None,
            **exc.extensions,
        )

    return on_domain_error


def install_problem_handlers(app: FastAPI, problems: ProblemMap | None = None) -> None:
    """Make every error of ``app`` answer with problem+json; ``problems`` maps the service's
    domain errors (the platform's own, such as :class:`NotFound`, are always mapped)."""
    app.add_exception_handler(Problem, _on_problem)  # type: ignore[arg-type]
    app.add_exception_handler(
        DomainError,
        _domain_error_handler({**PLATFORM_PROBLEMS, **(problems or {})}),  # type: ignore[arg-type]
    )
    app.add_exception_handler(RequestValidationError, _on_validation)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _on_http_exception)  # type: ignore[arg-type]
    app.add_exception_handler(DBAPIError, _on_database_error)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, _on_unexpected)
