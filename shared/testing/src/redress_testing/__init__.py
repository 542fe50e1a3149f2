"""Test support shared by every test suite and benchmark: the session's real PostgreSQL and
broker, services run in-process or as a real stack, loopback servers that stand in for third
parties (``webhook_receiver``, ``smtp``, ``gateway``), ``CaseStory`` event builders and
problem+json assertions.

Nothing here is imported by a service: it is for tests and benchmarks only.
"""

from redress_testing.infra import (
    StackClock,
    TestInfra,
    eventually,
    produce,
    recorded_topic,
    run_stack,
    running_app,
    service_settings,
    start_test_infra,
)
from redress_testing.problems import assert_problem

__all__ = [
    "StackClock",
    "TestInfra",
    "assert_problem",
    "eventually",
    "produce",
    "recorded_topic",
    "run_stack",
    "running_app",
    "service_settings",
    "start_test_infra",
]
