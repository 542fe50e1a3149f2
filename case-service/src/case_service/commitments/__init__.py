"""Commitments: promises made to the customer, and what a missed one does."""
