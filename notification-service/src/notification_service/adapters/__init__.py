"""Adapters to the outside: SMTP, the messaging gateway, and the SSRF-safe HTTP client of
webhook deliveries."""
