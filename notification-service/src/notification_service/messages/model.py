"""What the customer is told and when, and on which channel: pure rules, no I/O.

- Which case events are news for the customer, and with which template variables
  (:func:`message_for`); when a resolution asks "did the fix hold?" later and when a
  reopening cancels that (:func:`follow_up_change`).
- Quiet collapse: a status message (information request, investigating, resolved) waits
  ``status_quiet_window`` before it is sent (:func:`send_at`). A later status message of the
  same case planned while an earlier one still waits replaces it (the earlier one becomes
  ``collapsed``) and takes over its send time, so a burst of changes goes out as one message,
  saying the latest state, at most one window after the first change.
- Channels: the order in which a customer's contact points are tried (preferred first, then
  the configured fallback order), and the interface every channel adapter implements. A
  channel's ``send`` either returns (accepted), or raises :class:`PermanentDeliveryError`
  (this channel will never take it: fall back to the next one) or
  :class:`TemporaryDeliveryError` (try the same channel again later).
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal, Protocol

from redress_shared.clock import Clock
from redress_shared.events import (
    CASE_DECISION_RECORDED,
    CASE_OPENED,
    CASE_REMEDY_CHANGED,
    CASE_RESPONSE_ADDED,
    CASE_SLA_BREACHED,
    CASE_STATUS_CHANGED,
    CaseDecisionRecordedV1,
    CaseOpenedV1,
    CaseRemedyChangedV1,
    CaseResponseAddedV1,
    CaseSlaV1,
    CaseStatusChangedV1,
)

from notification_service.config import NotificationSettings
from notification_service.locales.model import Amount, DateOf, zone_named
from notification_service.templates import model as kinds

EMAIL = "email"
SMS = "sms"
CHAT = "chat"
SOCIAL = "social"
CHANNELS = (EMAIL, SMS, CHAT, SOCIAL)
GATEWAY_CHANNELS = (SMS, CHAT, SOCIAL)


@dataclass(frozen=True)
class OutgoingMessage:
    """One message ready for a channel."""

    message_id: str
    channel: str
    recipient: str
    reference: str
    language: str
    subject: str
    body_text: str
    body_html: str


class PermanentDeliveryError(Exception):
    """The channel refused the message for good (SMTP 5xx, gateway 4xx); retrying won't help."""


class TemporaryDeliveryError(Exception):
    """The message could not be sent now (network, SMTP 4xx, gateway 5xx/408/429); retry."""


class Channel(Protocol):
    """Something that delivers an :class:`OutgoingMessage` to a customer."""

    async def send(self, message: OutgoingMessage, sent_at: datetime) -> None:
        """Deliver ``message``; raise Permanent- or TemporaryDeliveryError when it fails."""
        ...


@dataclass(frozen=True)
class ContactPoints:
    """How a case's customer can be reached."""

    email: str | None
    phone: str | None
    customer_key: str
    opened_on: str | None  # the channel the complaint came in on
    preferred: str | None


def recipient_on(channel: str, contact: ContactPoints) -> str | None:
    """The address of the customer on ``channel``, or None when we have none there.

    A chat or social reply goes back into the conversation the complaint came from, so it
    exists only for a case opened on that channel; the gateway finds the conversation by the
    customer key (and the case reference it also receives)."""
    if channel == EMAIL:
        return contact.email or None
    if channel == SMS:
        return contact.phone or None
    if channel in (CHAT, SOCIAL) and contact.opened_on == channel:
        return contact.customer_key
    return None


def channel_plan(
    contact: ContactPoints, fallback_order: Sequence[str], usable: Sequence[str]
) -> list[tuple[str, str]]:
    """(channel, recipient) in the order to try: the preferred channel first, then
    ``fallback_order``; only channels that are ``usable`` (configured) and where the customer
    has an address."""
    order = [contact.preferred] if contact.preferred else []
    order += [channel for channel in fallback_order if channel not in order]
    plan = []
    for channel in order:
        recipient = recipient_on(channel, contact) if channel in usable else None
        if recipient:
            plan.append((channel, recipient))
    return plan


# --- what the customer is told --------------------------------------------------------------


@dataclass(frozen=True)
class Messaging:
    """What planning a message needs besides the event: time, settings, where e-mail comes
    from, and which channels this process can send on."""

    clock: Clock
    settings: NotificationSettings
    mail_domain: str
    usable_channels: tuple[str, ...]


#: (message kind, template variables), or nothing to tell. Moments (``datetime``), dates
#: (``date``, :class:`DateOf`) and :class:`Amount` are written for the customer's locale and
#: time zone once the message's language is known (``locales.model.LocaleFormat.localise``).
Planned = tuple[str, dict] | None

#: The case events that may be news for the customer (each one's rule is below).
CUSTOMER_EVENTS = (
    CASE_OPENED,
    CASE_RESPONSE_ADDED,
    CASE_DECISION_RECORDED,
    CASE_REMEDY_CHANGED,
    CASE_STATUS_CHANGED,
    CASE_SLA_BREACHED,
)

#: An SLA breach of these clocks is a promise to the customer we broke: we apologise.
APOLOGISED_CLOCKS = frozenset({"first_response", "resolve"})

#: Status messages that quiet collapse may fold into one.
STATUS_KINDS = frozenset({kinds.INFORMATION_REQUEST, kinds.INVESTIGATING, kinds.RESOLVED})


def acknowledgement(opened: CaseOpenedV1) -> Planned:
    """Reference, next steps and the expected timeline (the resolution as a date)."""
    return kinds.ACKNOWLEDGEMENT, {
        "subject": opened.subject,
        "first_response_by": opened.due.first_response_by,
        "resolve_by": DateOf(opened.due.resolve_by),
    }


def customer_time_zone(opened: CaseOpenedV1) -> str | None:
    """The customer's IANA time zone when case.opened carries one (``customer.time_zone``,
    from the complaint or the customer's profile); an unknown name counts as none."""
    name = opened.customer.time_zone
    return name if name and zone_named(name) is not None else None


def status_message(changed: CaseStatusChangedV1, survey_base_url: str) -> Planned:
    """The status changes worth telling: we need something from the customer, work started
    (or started again after a reopening), resolved, and closed (with the survey link). The
    move back to investigating after the customer answered is not news to them."""
    if changed.to_status == "awaiting_customer":
        return kinds.INFORMATION_REQUEST, {"question": changed.reason or ""}
    if changed.to_status == "investigating" and changed.from_status != "awaiting_customer":
        return kinds.INVESTIGATING, {}
    if changed.to_status == "resolved":
        return kinds.RESOLVED, {"resolution": changed.reason}
    if changed.to_status == "closed":
        return kinds.SURVEY, {"survey_url": f"{survey_base_url}/{changed.reference}"}
    return None


def delay_apology(breach: CaseSlaV1, new_time_after: timedelta) -> Planned:
    """ "We are late, here is the new time": the case service's new time when the event has
    one, else ``new_time_after`` from the breach."""
    if breach.clock not in APOLOGISED_CLOCKS:
        return None
    new_time = breach.new_due_at or breach.occurred_at + new_time_after
    return kinds.DELAY_APOLOGY, {
        "deadline": breach.clock,
        "missed_at": breach.due_at,
        "new_time": new_time,
    }


def response(added: CaseResponseAddedV1) -> Planned:
    """An agent's answer, word for word."""
    return kinds.RESPONSE, {"message": added.message}


def decision(decided: CaseDecisionRecordedV1) -> Planned:
    """Whether the complaint was justified, why, and the way forward."""
    return kinds.DECISION, {
        "validity": decided.validity,
        "explanation": decided.explanation,
        "way_forward": decided.way_forward,
    }


def remedy(changed: CaseRemedyChangedV1) -> Planned:
    """Told when it is offered (amount, method, deadline); approvals stay internal."""
    if changed.status != "offered":
        return None
    amount = changed.amount
    return kinds.REMEDY, {
        "remedy_type": changed.remedy_type,
        "amount": Amount(amount, changed.currency) if amount else None,
        "currency": changed.currency,
        "amount_with_currency": Amount(amount, changed.currency, True) if amount else None,
        "method": changed.method,
        "due_date": changed.due_date,
    }


def message_for(event_type: str, payload: object, settings: NotificationSettings) -> Planned:
    """The message a case event tells the customer, if any (see :data:`CUSTOMER_EVENTS`)."""
    if event_type == CASE_OPENED:
        return acknowledgement(payload)  # type: ignore[arg-type]
    if event_type == CASE_STATUS_CHANGED:
        return status_message(payload, settings.survey_base_url)  # type: ignore[arg-type]
    if event_type == CASE_SLA_BREACHED:
        return delay_apology(payload, settings.breach_new_time_after)  # type: ignore[arg-type]
    if event_type == CASE_RESPONSE_ADDED:
        return response(payload)  # type: ignore[arg-type]
    if event_type == CASE_DECISION_RECORDED:
        return decision(payload)  # type: ignore[arg-type]
    if event_type == CASE_REMEDY_CHANGED:
        return remedy(payload)  # type: ignore[arg-type]
    return None


def follow_up_change(payload: object) -> Literal["schedule", "cancel"] | None:
    """A resolution schedules the follow-up ("did the fix hold?"); a reopening of a resolved
    or closed case cancels it, as the fix did not hold."""
    if not isinstance(payload, CaseStatusChangedV1):
        return None
    if payload.to_status == "resolved":
        return "schedule"
    if payload.from_status in ("resolved", "closed"):
        return "cancel"
    return None


def send_at(kind: str, now: datetime, quiet_window: timedelta) -> datetime:
    """When a message planned ``now`` goes out: a status message waits the quiet window."""
    if kind in STATUS_KINDS and quiet_window > timedelta(0):
        return now + quiet_window
    return now


# --- sending ----------------------------------------------------------------------------------


def send_outcome(error: str | None, permanent: bool, attempts: int, max_attempts: int) -> str:
    """sent, retry (the same channel later) or failed (this channel is done with it): a
    permanent failure, or a temporary one that used up ``max_attempts``, fails the channel."""
    if error is None:
        return "sent"
    return "failed" if permanent or attempts >= max_attempts else "retry"


def send_retry_delay(base_seconds: float, attempts: int) -> timedelta:
    """How long until the same channel is tried again: doubling, with jitter."""
    return timedelta(seconds=base_seconds * 2 ** (attempts - 1) * random.uniform(0.8, 1.2))


@dataclass(frozen=True)
class ClaimedChange:
    """What one send does to a claimed message: its columns after the outcome."""

    id: uuid.UUID
    claim_id: uuid.UUID
    status: str
    attempts: int
    last_error: str | None
    sent_at: datetime | None
    next_attempt_at: datetime
    channel: str
    recipient: str
    falls_back: bool


@dataclass(frozen=True)
class SendRecord(ClaimedChange):
    """What recording one send writes: the message's columns after it, the attempt (the
    channel and recipient tried, its outcome and error) and, once the message is sent or has
    failed, its outcome event (id, key, the envelope as JSON text; None while pending)."""

    tried_channel: str
    tried_recipient: str
    outcome: str
    error: str | None
    event_id: uuid.UUID | None = None
    event_key: str | None = None
    event_json: str | None = None


def send_change(
    message: SentMessage,
    claim_id: uuid.UUID,
    error: str | None,
    permanent: bool,
    now: datetime,
    settings: NotificationSettings,
) -> tuple[ClaimedChange, str]:
    """What a send does to its message (as claimed: nobody else changes it while the claim
    holds) and the attempt's outcome: sent, retry later, the next contact point (a channel
    failed for good) or failed (none left)."""
    attempts = message.attempts + 1
    outcome = send_outcome(error, permanent, attempts, settings.max_send_attempts)
    change = {
        "id": message.id,
        "claim_id": claim_id,
        "status": "pending",
        "attempts": attempts,
        "last_error": error,
        "sent_at": None,
        "next_attempt_at": message.next_attempt_at,
        "channel": message.channel,
        "recipient": message.recipient,
        "falls_back": False,
    }
    if outcome == "sent":
        change.update(status="sent", sent_at=now)
    elif outcome == "retry":
        change.update(next_attempt_at=now + send_retry_delay(settings.retry_base_seconds, attempts))
    elif message.fallback_channels:
        next_channel, _, next_recipient = message.fallback_channels[0].partition(":")
        change.update(
            channel=next_channel,
            recipient=next_recipient,
            falls_back=True,
            attempts=0,
            last_error=f"{message.channel}: {error}",
            next_attempt_at=now,
        )
    else:
        change.update(status="failed")
    return ClaimedChange(**change), outcome


class SentMessage(Protocol):
    """What :func:`send_change` reads of a claimed message."""

    id: uuid.UUID
    attempts: int
    next_attempt_at: datetime
    channel: str
    recipient: str
    fallback_channels: list[str]
