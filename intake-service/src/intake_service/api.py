"""The HTTP edge of intake: its routers, its scopes and the one map from its domain errors
to problem+json (``type`` slugs, statuses and titles are part of the API: keep them)."""

from __future__ import annotations

from redress_shared.errors import ProblemMap, ProblemType

from intake_service.channels.api import LEAN_ROUTES
from intake_service.channels.api import router as channels_router
from intake_service.classification.api import RULES_WRITE_SCOPE
from intake_service.classification.api import router as classification_router
from intake_service.classification.model import InvalidRules, StaleRules
from intake_service.complaints.api import SCOPES as COMPLAINT_SCOPES
from intake_service.complaints.api import router as complaints_router
from intake_service.complaints.model import (
    AttachmentTooLarge,
    ConcurrentSubmission,
    IdempotencyKeyReused,
    InvalidComplaint,
)
from intake_service.email.api import router as email_router
from intake_service.email.model import EmptyMessage, UnparseableMessage
from intake_service.quarantine.api import router as quarantine_router
from intake_service.quarantine.model import NotQuarantined, StillQuarantined

ROUTERS = [
    channels_router,
    complaints_router,
    email_router,
    quarantine_router,
    classification_router,
]
SCOPES = [*COMPLAINT_SCOPES, RULES_WRITE_SCOPE]

__all__ = ["LEAN_ROUTES", "PROBLEMS", "ROUTERS", "SCOPES"]

PROBLEMS: ProblemMap = {
    InvalidComplaint: ProblemType(
        422,
        "invalid-complaint",
        "The complaint is not valid",
        advice="Correct what `detail` names (e.g. give the customer an e-mail or phone) "
        "and submit again.",
    ),
    IdempotencyKeyReused: ProblemType(
        422,
        "idempotency-key-reused",
        "Idempotency-Key reused with a different request",
        advice="Send a different request under a new Idempotency-Key; repeat a request "
        "only with its own key and the same body.",
    ),
    ConcurrentSubmission: ProblemType(
        409,
        "concurrent-submission",
        "The same complaint is being submitted concurrently",
        advice="Send the same request again in a moment: it answers with the complaint "
        "the other submission registered.",
    ),
    AttachmentTooLarge: ProblemType(
        413,
        "attachment-too-large",
        "An attachment is larger than the limit",
        advice="Send a smaller file (the answer names the limit) or a link to it.",
    ),
    EmptyMessage: ProblemType(
        422, "empty-message", "The message is empty", advice="Send a message with a text."
    ),
    UnparseableMessage: ProblemType(
        422,
        "unparseable-message",
        "The message could not be normalised; it is kept in quarantine",
        advice="Nothing is lost: the submission named in the answer waits in quarantine; "
        "fix the cause and replay it (`POST /v1/quarantine/{submission_id}/replay`).",
    ),
    NotQuarantined: ProblemType(
        409,
        "not-quarantined",
        "The submission is not in quarantine",
        advice="Nothing to replay: the submission was already normalised (see its complaint).",
    ),
    StillQuarantined: ProblemType(
        422,
        "still-quarantined",
        "The submission still cannot be normalised",
        advice="It stays in quarantine: read `detail`, remove the cause, then replay again.",
    ),
    InvalidRules: ProblemType(
        422, "invalid-classification-rules", "The classification rules are not valid"
    ),
    StaleRules: ProblemType(
        412, "stale-classification-rules", "The rules have changed since you read them"
    ),
}
