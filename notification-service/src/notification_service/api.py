"""The HTTP edge of the notification service: its routers, scopes, and which problem+json
each domain error is (same ``type`` slugs, statuses and titles as the API always had)."""

from __future__ import annotations

from redress_shared.errors import ProblemMap, ProblemType

from notification_service.messages import api as messages
from notification_service.templates import api as templates
from notification_service.templates.model import (
    InvalidLanguage,
    InvalidTemplateSyntax,
    TemplateLimitExceeded,
    TemplateRenderFailure,
    UndefinedTemplateVariable,
    UnknownTemplateKind,
    UnsafeTemplate,
)
from notification_service.webhooks import api as webhooks
from notification_service.webhooks.model import (
    EmptyRange,
    SecretsKeyMissing,
    UnsafeUrl,
    WebhookDisabled,
)

ROUTERS = [messages.router, templates.router, webhooks.router, webhooks.deliveries_router]

SCOPES = [messages.READ_SCOPE, templates.WRITE_SCOPE, webhooks.READ_SCOPE, webhooks.WRITE_SCOPE]

_UNUSABLE_TEMPLATE = "The template cannot be used"

PROBLEMS: ProblemMap = {
    UnknownTemplateKind: ProblemType(404, "unknown-template-kind", "No such kind of message"),
    InvalidLanguage: ProblemType(422, "invalid-language", "The language is not valid"),
    InvalidTemplateSyntax: ProblemType(422, "template-syntax-error", _UNUSABLE_TEMPLATE),
    UndefinedTemplateVariable: ProblemType(422, "template-undefined-variable", _UNUSABLE_TEMPLATE),
    UnsafeTemplate: ProblemType(422, "template-unsafe", _UNUSABLE_TEMPLATE),
    TemplateRenderFailure: ProblemType(422, "template-render-error", _UNUSABLE_TEMPLATE),
    TemplateLimitExceeded: ProblemType(
        422, "template-limit-exceeded", "The template exceeds the rendering limits"
    ),
    SecretsKeyMissing: ProblemType(
        503,
        "webhook-secrets-key-missing",
        "Webhook secrets cannot be stored",
        advice="An operator sets `REDRESS_WEBHOOK_SECRETS_KEY` (or the admin key) and "
        "restarts the service; then send the request again.",
    ),
    UnsafeUrl: ProblemType(422, "unsafe-webhook-url", "The webhook URL is not allowed"),
    WebhookDisabled: ProblemType(409, "webhook-disabled", "The webhook is disabled"),
    EmptyRange: ProblemType(422, "invalid-range", "The time range is empty"),
}
