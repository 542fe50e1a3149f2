"""Messages of a case, pure: who writes them and what kinds there are."""

from __future__ import annotations

from datetime import timedelta

NOTE = "note"
RESPONSE = "response"  # to the customer: meets the first-response clock, and is delivered
CUSTOMER_MESSAGE_KIND = "customer"  # the customer's own message (a reply by e-mail)
# Resuming on the customer's reply never looks at the reopen window; any value serves.
NO_REOPEN_WINDOW = timedelta(0)


class CaseNotYetOpened(LookupError):
    """The complaint has no case here (yet): the consumer retries, then dead-letters the
    event; it is never dropped. Not a client's error, so not a DomainError."""
