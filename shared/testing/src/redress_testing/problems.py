"""Assertions on RFC 9457 problem+json answers."""

from __future__ import annotations

import httpx


def assert_problem(response: httpx.Response, status: int, slug: str) -> dict:
    """Assert ``response`` is the RFC 9457 problem ``slug`` with ``status``; return its body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"] == f"urn:redress:problem:{slug}"
    assert problem["status"] == status
    assert problem["title"]
    return problem
