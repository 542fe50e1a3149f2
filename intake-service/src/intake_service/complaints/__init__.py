"""The complaint: submission use cases (idempotency, content-fingerprint dedupe, replies attached), reads and attachments."""
