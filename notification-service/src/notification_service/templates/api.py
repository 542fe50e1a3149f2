"""HTTP entrypoints of message templates: read them, change one."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from redress_shared.auth import AUTH_RESPONSES, Principal, require_scope
from redress_shared.errors import ProblemDetail
from redress_shared.runtime import RuntimeDep

from notification_service.messages.api import NotificationReader
from notification_service.templates import service
from notification_service.templates.schemas import TemplateRead, TemplateUpdate

WRITE_SCOPE = "templates:write"
TemplateWriter = Annotated[Principal, Depends(require_scope(WRITE_SCOPE))]

TEMPLATES_DESCRIPTION = """\
Templates are Jinja2, rendered in a sandbox that cannot reach Python internals. Each kind of
message (`acknowledgement`, `information_request`, `investigating`, `resolved`,
`delay_apology`, `response`, `decision`, `remedy`, `survey`, `follow_up`) may use only its own
variables (listed in `variables`). Languages are BCP 47 tags in canonical form (`ro`,
`pt-BR`, `zh-Hant`). A message is written in the first of: the customer's language, the desk's
default language, English, each from its regional form to its base (`pt-BR`, then `pt`); in
each, the desk's latest version comes before the built-in text (version 1, in 34 languages).
Dates, times and amounts arrive written for the customer's locale and time zone. A change is a
new version and applies to messages planned after it; each notification records the version it
was rendered from.
"""

router = APIRouter(prefix="/v1/templates", tags=["templates"], responses=AUTH_RESPONSES)


@router.get("", summary="List the templates in use", description=TEMPLATES_DESCRIPTION)
async def list_templates(runtime: RuntimeDep, _: NotificationReader) -> list[TemplateRead]:
    return [TemplateRead.of(t) for t in await service.list_templates(runtime.session_factory)]


@router.get(
    "/{kind}/{language}",
    summary="Read a template",
    description="The current version of one kind in one language.",
    responses={
        404: {"model": ProblemDetail, "description": "No such kind or template"},
        422: {"model": ProblemDetail, "description": "Not a language subtag"},
    },
)
async def get_template(
    kind: str, language: str, runtime: RuntimeDep, _: NotificationReader
) -> TemplateRead:
    return TemplateRead.of(await service.get_template(runtime.session_factory, kind, language))


@router.put(
    "/{kind}/{language}",
    summary="Change a template",
    description=TEMPLATES_DESCRIPTION
    + "\nRefused with 422 and nothing stored: a syntax error (`template-syntax-error`), a "
    "variable the kind does not have (`template-undefined-variable`), anything that reaches "
    "for Python internals such as `__class__` (`template-unsafe`), or a template that fails "
    "its trial render with sample values (`template-render-error`).",
    responses={
        404: {"model": ProblemDetail, "description": "No such kind of message"},
        422: {"model": ProblemDetail, "description": "The template cannot be used"},
    },
)
async def put_template(
    kind: str, language: str, body: TemplateUpdate, runtime: RuntimeDep, caller: TemplateWriter
) -> TemplateRead:
    stored = await service.put_template(
        runtime.session_factory, runtime.clock, kind, language, body.text(), caller.name
    )
    return TemplateRead.of(stored)
