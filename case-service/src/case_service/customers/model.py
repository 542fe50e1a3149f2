"""Customer profile rules, pure: which contact point a preferred channel needs, and how a
complaint's contact points meet the stored profile."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from redress_shared.errors import DomainError
from redress_shared.events import CustomerContact

# Which contact point each preferred channel needs (chat and social reach the customer
# where they wrote to us, so they need none on the profile).
CHANNEL_CONTACT = {"email": "email", "sms": "phone"}
CONTACT_FIELDS = ("name", "email", "phone", "language", "preferred_channel", "time_zone")


class InvalidCustomerUpdate(DomainError):
    """The update would leave the preferred channel without its contact point."""


@dataclass(frozen=True)
class CustomerProfile:
    """A customer row with the counts ops sees beside it."""

    row: Any
    complaints_in_window: int
    frequent_complainer: bool
    recent_cases: list[Any]


def check_reachable(profile: dict[str, Any]) -> None:
    """A preferred channel needs its contact point on the profile."""
    needed = CHANNEL_CONTACT.get(profile["preferred_channel"] or "")
    if needed and not profile[needed]:
        raise InvalidCustomerUpdate(
            f"preferred_channel '{profile['preferred_channel']}' needs the customer's {needed}"
        )


def customer_contact(contact: CustomerContact, profile: Any) -> CustomerContact:
    """``contact`` completed from the customer's profile: what the profile holds wins (it
    already took the complaint's newest contact points), what it lacks is kept."""
    return contact.model_copy(
        update={
            field: getattr(profile, field)
            for field in CONTACT_FIELDS
            if getattr(profile, field) is not None
        }
    )


def contact_values(contact: CustomerContact) -> dict[str, Any]:
    """The contact points a complaint brings, by profile column."""
    return {field: getattr(contact, field) for field in CONTACT_FIELDS}


def fold_contacts(before: dict[str, Any], contacts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The contact points of a profile after each complaint in turn: the newest complaint's
    contact points win, a missing one keeps what the profile had (``before``, empty for a new
    customer)."""
    after = []
    current = dict(before)
    for contact in contacts:
        current = {
            field: contact.get(field) if contact.get(field) is not None else current.get(field)
            for field in CONTACT_FIELDS
        }
        after.append(current)
    return after
