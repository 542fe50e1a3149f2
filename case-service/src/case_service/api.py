"""The HTTP edge of the case service: its routers, its scopes, and the one map from each
domain error to the problem+json clients see (``type`` slugs, statuses and titles are part
of the API)."""

from __future__ import annotations

from redress_shared.errors import ProblemMap, ProblemType

from case_service.capa import api as capa_api
from case_service.capa.model import InvalidCapaChange, UnknownCase
from case_service.cases import api as cases_api
from case_service.cases.model import (
    IllegalTransition,
    InvalidCursor,
    InvalidTransitionRequest,
    StaleVersion,
)
from case_service.commitments import api as commitments_api
from case_service.commitments.model import CommitmentSettled, InvalidCommitment
from case_service.customers import api as customers_api
from case_service.customers.model import InvalidCustomerUpdate
from case_service.messages import api as messages_api
from case_service.outcomes import api as outcomes_api
from case_service.outcomes.model import (
    IllegalRemedyAction,
    InvalidOutcome,
    SatisfactionAlreadyRecorded,
)
from case_service.routing import api as routing_api
from case_service.routing.model import ReasonRequired, UnknownTeam
from case_service.sla import api as sla_api
from case_service.sla.model import InvalidCalendar, PriorityAlreadyCovered, UnknownCalendar

ROUTERS = [
    cases_api.router,
    messages_api.router,
    outcomes_api.router,
    commitments_api.router,
    sla_api.router,
    capa_api.router,
    routing_api.router,
    customers_api.router,
]

SCOPES = [
    *cases_api.SCOPES,
    sla_api.SLA_WRITE_SCOPE,
    outcomes_api.APPROVE_SCOPE,
    capa_api.CAPA_WRITE_SCOPE,
    routing_api.ROUTING_WRITE_SCOPE,
]

PROBLEMS: ProblemMap = {
    # Cases
    IllegalTransition: ProblemType(
        409, "illegal-transition", "This action is not allowed in the case's current state"
    ),
    InvalidTransitionRequest: ProblemType(
        422, "invalid-transition-request", "The transition request is incomplete"
    ),
    StaleVersion: ProblemType(412, "stale-version", "The case has changed since you read it"),
    InvalidCursor: ProblemType(400, "invalid-cursor", "The cursor is not valid"),
    # Customers
    InvalidCustomerUpdate: ProblemType(
        422, "invalid-customer-update", "The preferred channel has no contact point"
    ),
    # Outcomes
    InvalidOutcome: ProblemType(
        422, "invalid-outcome", "The request breaks a complaint-handling rule"
    ),
    IllegalRemedyAction: ProblemType(
        409, "illegal-remedy-action", "Not allowed for this remedy now"
    ),
    SatisfactionAlreadyRecorded: ProblemType(
        409, "conflict", "This case already has a satisfaction survey"
    ),
    # Commitments
    InvalidCommitment: ProblemType(422, "invalid-commitment", "The commitment is not valid"),
    CommitmentSettled: ProblemType(409, "commitment-settled", "The commitment is no longer open"),
    # Routing
    UnknownTeam: ProblemType(422, "unknown-team", "Unknown team"),
    ReasonRequired: ProblemType(422, "reason-required", "Say why the case moves"),
    # SLA configuration
    InvalidCalendar: ProblemType(422, "invalid-calendar", "The calendar is not valid"),
    UnknownCalendar: ProblemType(422, "unknown-calendar", "Unknown calendar"),
    PriorityAlreadyCovered: ProblemType(409, "conflict", "Another policy covers this priority"),
    # Corrective actions
    InvalidCapaChange: ProblemType(
        409, "illegal-capa-change", "Not allowed for this corrective action"
    ),
    UnknownCase: ProblemType(422, "unknown-case", "Unknown case"),
}
