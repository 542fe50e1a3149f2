"""Webhooks: subscriptions, deliveries and their attempts, endpoint health, signing."""
