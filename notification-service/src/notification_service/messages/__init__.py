"""Customer messages: what the customer is told and when, on which channel, and how it is
sent (planning, quiet collapse, follow-ups, dispatch with fallback, reads)."""
