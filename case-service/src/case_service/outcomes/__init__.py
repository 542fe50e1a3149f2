"""Outcomes: the validity decision, remedies and the customer's satisfaction."""
